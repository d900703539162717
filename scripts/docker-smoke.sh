#!/usr/bin/env bash
# Build the image and prove that a paper and a live session run in it, each started by its own run script
# (scripts/run-paper.sh, scripts/run-live.sh) as a uid the image does not know (HOME /), on a read-only root
# filesystem, against the Kraken emulator running in a container of the same image on a Docker network of its own:
#  1. paper, with the warm-up read from the history mount: live bars, `docker inspect` says healthy, the status
#     and the dashboard answer on their ports published on the host's 127.0.0.1, `docker stop` -> exit 0 and every
#     result file;
#  2. live (a tiny model promoted with the test suite's own helper and the trading configuration started by the
#     logged override: the smoke checks the container, not a model or a configuration;
#     the emulator's credentials by a relative KG_CREDENTIALS): live bars and healthy; a second container on the
#     same key is refused while the first runs; `docker stop` -> exit 0, results written. Before it, the key's
#     nonce floor is set an hour ahead of the clock (as after a clock stepped back), so the emulator, which
#     refuses any nonce not above the last one it saw, tells whether the floor was kept:
#  3. a fresh locks folder (what `--rm` used to leave) is refused (EAPI:Invalid nonce); a restart of the live
#     container with the mounted locks folder trades again, and its floor keeps growing.
# Exits non-zero on the first failure with a FAILED line (and the tail of the log that explains it). Removes its
# containers, network and folders when it ends (KG_SMOKE_KEEP=1 keeps the folders). Needs a Docker daemon and curl;
# a few minutes after the build. KG_BUILD_OPTIONS: extra `docker build` options (e.g. --network host).
#   scripts/docker-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
image=kraken-global
prefix="kg-smoke-$$"
docker info >/dev/null 2>&1 || { echo "no Docker daemon here (docker info fails): nothing to do" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is needed to read the published status port" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kg-smoke.XXXXXX")
home=$work/kg-data
explain=""  # the log whose tail a failure shows
cleanup() {
  # -v: the emulator's container mounts none of the image's VOLUMEs, so Docker made anonymous volumes for them
  docker rm -f -v "$prefix-emulator" "$prefix-paper" "$prefix-live" "$prefix-live-2" "$prefix-no-floor" \
    >/dev/null 2>&1 || true
  docker network rm "$prefix-net" >/dev/null 2>&1 || true
  if [[ -n "${KG_SMOKE_KEEP:-}" ]]; then echo "smoke: folders kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
  [[ -n "$explain" && -f "$explain" ]] && { echo "--- last lines of $explain:" >&2; tail -n 25 "$explain" >&2; }
  echo "FAILED: $*" >&2
  exit 1
}
ok() { echo "OK: $*"; }
wait_until() {  # wait_until SECONDS WHAT COMMAND...: poll COMMAND every half second
  local limit=$1 what=$2
  shift 2
  for _ in $(seq $((limit * 2))); do
    "$@" && return 0
    sleep 0.5
  done
  fail "no $what within $limit s"
}
live_bars() {  # live_bars CLIENT_PID STATUS_FILE: 3 live bars or more; the session must still run
  kill -0 "$1" 2>/dev/null || fail "the session ended before 3 live bars"
  sed -n 's/.*"live_bars": \([0-9]*\).*/\1/p' "$2" 2>/dev/null | grep -q '^[3-9]\|^[1-9][0-9]'
}
healthy() {  # healthy CONTAINER CLIENT_PID: what `docker inspect` says of the HEALTHCHECK
  kill -0 "$2" 2>/dev/null || fail "$1 ended before it was healthy"
  [[ "$(docker inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null)" == healthy ]]
}
emulator_up() {
  docker logs "$prefix-emulator" >"$work/emulator.log" 2>&1
  grep -q "Kraken emulator on" "$work/emulator.log"
}
free_port() {  # a port nothing on the host's 127.0.0.1 answers
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}
stop_cleanly() {  # stop_cleanly CONTAINER CLIENT_PID RESULTS_DIR: SIGTERM, exit 0, every result file
  docker stop --time 120 "$1" >/dev/null
  local code=0
  wait "$2" || code=$?
  [[ $code == 0 ]] || fail "$1 exited $code after docker stop (SIGTERM), not 0"
  for file in metrics.json fills.csv plan.csv session.json status.json; do
    [[ -f "$3/$file" ]] || fail "$1 left no $file in $3"
  done
  grep -q '"state": "stopped"' "$3/status.json" || fail "$1's status does not say stopped"
}
floor() { cat "$home"/locks/*.nonce; }

echo "smoke: building the image $image"
explain=$work/build.log
# shellcheck disable=SC2086  # KG_BUILD_OPTIONS holds several options
docker build ${KG_BUILD_OPTIONS:-} -t "$image" . >"$explain" 2>&1 || fail "docker build"
ok "built the image $image"

# a uid the image does not know, so HOME is / and nothing may be written outside the mounts (root would hide that)
user="$(id -u):$(id -g)"
[[ $(id -u) == 0 ]] && user=${KG_SMOKE_USER:-20000:20000}
# two KG_HOMEs: the smoke's, and one with a fresh locks folder (step 3); the run scripts would create them, but
# as root they would be root's
for folder in "$home" "$work/no-floor"; do
  mkdir -p "$folder"/{artifacts,keys,locks,state,logs,results,candles,history}
done
mkdir "$work/emulator"
# the warm-up history: Kraken's own OHLCVT exports (the bundled ones), as a user mounts theirs
cp kraken_global/bundled/data/XBTUSD_60.csv.gz kraken_global/bundled/data/ETHUSD_60.csv.gz "$home/history/"
[[ $(id -u) == 0 ]] && chown -R "$user" "$work"
chmod 0700 "$work"

explain=$work/emulator.log
docker network create "$prefix-net" >"$explain" 2>&1 || fail "creating the Docker network $prefix-net"
docker run -d --init --read-only --tmpfs /tmp --no-healthcheck --user "$user" --name "$prefix-emulator" \
  --network "$prefix-net" --mount "type=bind,src=$work/emulator,dst=/emulator" "$image" \
  emulator --host 0.0.0.0 --port 8799 --speed 36000 --credentials /emulator/credentials.json >"$explain" 2>&1 \
  || fail "starting the emulator's container as $user"
wait_until 120 "emulator" emulator_up
api="http://$prefix-emulator:8799"
ok "emulator in its own container at $api"
session=(--api-url "$api" --pairs BTC/USD ETH/USD --no-rate-limit --poll-seconds 0.5 --no-retrain --quiet)
export KG_HOME=$home KG_NETWORK=$prefix-net KG_USER=$user KG_IMAGE=$image

# 1. paper
paper_port=$(free_port)
dashboard_port=$(free_port)
explain=$work/paper.log
KG_NAME=$prefix-paper KG_STATUS_PORT=$paper_port KG_DASHBOARD_PORT=$dashboard_port \
  KG_DASHBOARD_TOKEN="smoke-$RANDOM-$RANDOM-$RANDOM-token" \
  scripts/run-paper.sh "${session[@]}" --out /data/results/paper >"$explain" 2>&1 &
paper=$!
wait_until 600 "3 live bars in the paper session" live_bars "$paper" "$home/results/paper/status.json"
wait_until 240 "healthy paper container (docker inspect)" healthy "$prefix-paper" "$paper"
curl -fsS "http://127.0.0.1:$paper_port/status" | grep -q '"mode": "paper"' \
  || fail "the paper status is not served on the published 127.0.0.1:$paper_port"
curl -fsS "http://127.0.0.1:$dashboard_port/" | grep -q "<title>kraken-global</title>" \
  || fail "the dashboard is not served on the published 127.0.0.1:$dashboard_port"
who=$(docker exec "$prefix-paper" sh -c 'echo "uid $(id -u), HOME $HOME"; getent passwd "$(id -u)" || true')
[[ $who == "uid ${user%%:*}, HOME /" ]] || fail "the session runs as: $who"
[[ $(docker inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$prefix-paper") == true ]] \
  || fail "the paper container's root filesystem is writable"
stop_cleanly "$prefix-paper" "$paper" "$home/results/paper"
replayed=$(sed -n 's/.*"bars": \([0-9]*\).*/\1/p' "$home/results/paper/session.json" | sort -n | head -1)
(( ${replayed:-0} > 720 )) || fail "the paper session replayed ${replayed:-no} bars: not the history mount"
ok "paper via run-paper.sh: $replayed bars of the history mount replayed, live bars, healthy, status on" \
  "127.0.0.1:$paper_port and dashboard on 127.0.0.1:$dashboard_port, $who, read-only root filesystem;" \
  "docker stop -> exit 0, every result file"

# 2. live
explain=$work/model.log
docker run --rm --read-only --tmpfs /tmp --user "$user" --network none \
  --mount "type=bind,src=$home/artifacts,dst=/data/artifacts" --mount "type=bind,src=$home/keys,dst=/data/keys" \
  --mount "type=bind,src=$repo/tests,dst=/app/tests,readonly" --entrypoint python "$image" \
  -c 'from pathlib import Path; from tests.session_helpers import approve_a_model
print(approve_a_model(Path("/data/artifacts")))' >"$explain" 2>&1 || fail "promoting a test model"
ahead=$(( $(date +%s) * 1000 + 3600 * 1000 ))
docker run --rm --read-only --user "$user" --network none --mount "type=bind,src=$home/locks,dst=/data/locks" \
  --mount "type=bind,src=$work/emulator/credentials.json,dst=/run/secrets/kraken.json,readonly" \
  --entrypoint python "$image" -c 'import json, sys
from kraken_global.live.keyguard import KeyGuard
KeyGuard(json.load(open("/run/secrets/kraken.json"))["key"], "/data/locks").nonce_path.write_text(sys.argv[1])' \
  "$ahead" >"$explain" 2>&1 || fail "setting the nonce floor"
live_port=$(free_port)
run_live() {  # from the work folder, with relative paths: the run script must resolve them
  (cd "$work" && KG_HOME=kg-data KG_CREDENTIALS=emulator/credentials.json "$repo/scripts/run-live.sh" \
    "${session[@]}" --unapproved-config yes-trade-unapproved "$@")  # the container, not a configuration, is tested
}
explain=$work/live.log
KG_NAME=$prefix-live KG_STATUS_PORT=$live_port run_live --out /data/results/live >"$explain" 2>&1 &
live=$!
wait_until 600 "3 live bars in the live session" live_bars "$live" "$home/results/live/status.json"
wait_until 240 "healthy live container (docker inspect)" healthy "$prefix-live" "$live"
curl -fsS "http://127.0.0.1:$live_port/status" | grep -q '"mode": "live"' \
  || fail "the live status is not served on the published 127.0.0.1:$live_port"
explain=$work/live-2.log
code=0
KG_NAME=$prefix-live-2 KG_STATUS_PORT=off run_live --out /data/results/live-2 >"$explain" 2>&1 || code=$?
[[ $code == 2 ]] && grep -q "another kraken-global session is using this API key" "$explain" \
  || fail "a second live container on the same key was not refused (exit $code)"
refused=$(grep -o "another kraken-global session is using this API key" "$explain")
explain=$work/live.log
stop_cleanly "$prefix-live" "$live" "$home/results/live"
first=$(floor)
(( first > ahead )) || fail "the nonce floor $first is not above the one set before the session ($ahead)"
ok "live via run-live.sh: live bars, healthy, status on 127.0.0.1:$live_port, stopped -> exit 0"
ok "key lock: a second container on the key was refused while the first ran: $refused"

# 3. restart
explain=$work/no-floor.log
cp -a "$home/artifacts" "$home/keys" "$home/history" "$work/no-floor/"
code=0
(cd "$work" && KG_HOME=no-floor KG_CREDENTIALS=emulator/credentials.json \
  KG_NAME=$prefix-no-floor KG_STATUS_PORT=off "$repo/scripts/run-live.sh" "${session[@]}" \
  --unapproved-config yes-trade-unapproved --out /data/results/no-floor) >"$explain" 2>&1 || code=$?
[[ $code != 0 ]] && grep -q "Invalid nonce" "$explain" \
  || fail "a container without the nonce floor was not refused by the emulator (exit $code): the check proves nothing"
explain=$work/live-restarted.log
KG_NAME=$prefix-live KG_STATUS_PORT=$live_port run_live --out /data/results/live-restarted >"$explain" 2>&1 &
live=$!
wait_until 600 "3 live bars after the restart" live_bars "$live" "$home/results/live-restarted/status.json"
stop_cleanly "$prefix-live" "$live" "$home/results/live-restarted"
second=$(floor)
(( second > first )) || fail "the nonce floor did not grow across the restart ($first -> $second)"
ok "nonce floor kept in the locks volume across --rm and a restart: $ahead -> $first -> $second (without it: refused)"
echo "OK: the image runs paper and live for real, in $SECONDS s with the build: results in $home/results (removed" \
  "at exit unless KG_SMOKE_KEEP=1)"
