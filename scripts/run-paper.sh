#!/usr/bin/env bash
# Paper trading in the container: live Kraken candles, the simulated Kraken broker. No credentials needed.
#   scripts/run-paper.sh [extra kraken-global paper options]
#   KG_HISTORY=~/kraken-ohlcvt KG_STATUS_PORT=8790 scripts/run-paper.sh --pairs BTC/USD ETH/USD
# KG_HOME (default ./kg-data) holds the mounted artifacts/, keys/ (audit key), locks/, state/, logs/, results/,
# candles/ and history/; the other settings (KG_HISTORY, KG_STATUS_PORT, KG_NETWORK, ...) are in lib-container.sh.
# The status is on http://127.0.0.1:8790/status; `docker stop kraken-global-paper` stops the session cleanly
# (SIGTERM: every result file written, exit 0).
set -euo pipefail
source "$(dirname "$0")/lib-container.sh"
kg_run paper 8790 -- "$@"
