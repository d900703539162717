#!/usr/bin/env bash
# Paper trading in the container: live Kraken candles, the simulated Kraken broker. No credentials needed.
#   scripts/run-paper.sh [extra kraken-global paper options]
# KG_HOME (default ./kg-data) holds the mounted artifacts/, keys/ (audit key), state/, logs/, results/ and candles/.
# `docker stop kraken-global-paper` stops it cleanly (SIGTERM: every result file written, exit 0).
set -euo pipefail
KG_HOME="${KG_HOME:-$PWD/kg-data}"
# the folders belong to the user running this script, and so does the container's process (--user): it can write
# them, and the files it writes stay readable on the host; 0700: state, logs and models are nobody else's business
mkdir -p -m 0700 "$KG_HOME"/{artifacts,keys,state,logs,results,candles}
exec docker run --rm --init --user "$(id -u):$(id -g)" --name kraken-global-paper \
  -v "$KG_HOME/artifacts:/data/artifacts" -v "$KG_HOME/keys:/data/keys" -v "$KG_HOME/state:/data/state" \
  -v "$KG_HOME/logs:/data/logs" -v "$KG_HOME/results:/data/results" -v "$KG_HOME/candles:/data/candles" \
  kraken-global paper --config /app/kraken_global/configs/container.yaml "$@"
