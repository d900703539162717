#!/usr/bin/env bash
# Live trading in the container: orders on Kraken. Refuses to start without an approved model (in
# $KG_HOME/artifacts, promoted with `kraken-global promote ... --confirm yes-promote`) and valid credentials.
#   KRAKEN_API_KEY=... KRAKEN_API_SECRET=... scripts/run-live.sh [extra kraken-global live options]
# The key and secret are passed by name (--env NAME), so they never appear in `ps` or the shell history of this
# script; alternatively set KG_CREDENTIALS to a JSON file with mode 0600 (yours: the container runs as you),
# mounted read-only. `docker stop kraken-global-live` stops it cleanly (SIGTERM: results written, exit 0).
set -euo pipefail
KG_HOME="${KG_HOME:-$PWD/kg-data}"
# the folders belong to the user running this script, and so does the container's process (--user): it can write
# them, and the files it writes stay readable on the host; 0700: state, logs and models are nobody else's business
mkdir -p -m 0700 "$KG_HOME"/{artifacts,keys,state,logs,results,candles}
secrets=(--env KRAKEN_API_KEY --env KRAKEN_API_SECRET)
extra=()
if [[ -n "${KG_CREDENTIALS:-}" ]]; then
  secrets=(-v "$KG_CREDENTIALS:/run/secrets/kraken.json:ro")
  extra=(--credentials /run/secrets/kraken.json)
elif [[ -z "${KRAKEN_API_KEY:-}" || -z "${KRAKEN_API_SECRET:-}" ]]; then
  echo "set KRAKEN_API_KEY and KRAKEN_API_SECRET, or KG_CREDENTIALS=/path/to/credentials.json" >&2
  exit 2
fi
exec docker run --rm --init --user "$(id -u):$(id -g)" --name kraken-global-live "${secrets[@]}" \
  -v "$KG_HOME/artifacts:/data/artifacts" -v "$KG_HOME/keys:/data/keys" -v "$KG_HOME/state:/data/state" \
  -v "$KG_HOME/logs:/data/logs" -v "$KG_HOME/results:/data/results" -v "$KG_HOME/candles:/data/candles" \
  kraken-global live --config /app/kraken_global/configs/container.yaml "${extra[@]}" "$@"
