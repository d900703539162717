#!/usr/bin/env bash
# Build the image and prove it runs: a paper session inside the container against the emulator (also inside it),
# watched through its status file on the mounted volume, then stopped with `docker stop` (SIGTERM), which must
# leave every result file. Needs a Docker daemon (`docker info`); about two minutes after the build.
#   scripts/docker-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
docker info >/dev/null 2>&1 || { echo "no Docker daemon here (docker info fails): nothing to do" >&2; exit 2; }
docker build -t kraken-global .
KG_HOME="$(mktemp -d)"
mkdir -p -m 0700 "$KG_HOME"/{artifacts,state,logs,results,candles}
name="kraken-global-smoke-$$"
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
docker run -d --init --user "$(id -u):$(id -g)" --name "$name" \
  -v "$KG_HOME/artifacts:/data/artifacts" -v "$KG_HOME/state:/data/state" \
  -v "$KG_HOME/logs:/data/logs" -v "$KG_HOME/results:/data/results" -v "$KG_HOME/candles:/data/candles" \
  --entrypoint sh kraken-global -c '
    cd /tmp && kraken-global emulator --speed 36000 --credentials /tmp/emulator.json &
    until python -c "import socket; socket.create_connection((\"127.0.0.1\", 8799), 1)" 2>/dev/null; do
      sleep 0.2
    done
    exec kraken-global paper --config /app/kraken_global/configs/container.yaml --out /data/results/smoke \
      --api-url http://127.0.0.1:8799 --no-rate-limit --poll-seconds 0.5 --no-retrain --quiet'
status="$KG_HOME/results/smoke/status.json"
for _ in $(seq 600); do
  grep -q '"live_bars": [1-9]' "$status" 2>/dev/null && break
  sleep 0.5
done
grep -q '"live_bars": [1-9]' "$status" || { docker logs "$name"; echo "FAILED: no live bar" >&2; exit 1; }
docker stop --time 60 "$name" >/dev/null
code="$(docker inspect --format '{{.State.ExitCode}}' "$name")"
for file in metrics.json fills.csv plan.csv session.json status.json; do
  [ -f "$KG_HOME/results/smoke/$file" ] || { docker logs "$name"; echo "FAILED: no $file" >&2; exit 1; }
done
[ "$code" = 0 ] || { docker logs "$name"; echo "FAILED: exit code $code after docker stop" >&2; exit 1; }
echo "OK: image built, paper session ran in the container and stopped cleanly; results in $KG_HOME/results/smoke"
