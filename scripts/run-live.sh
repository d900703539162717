#!/usr/bin/env bash
# Live trading in the container: orders on Kraken. Refuses to start without an approved model (in
# $KG_HOME/artifacts, promoted with `kraken-global promote ... --confirm yes-promote`) and valid credentials.
#   KRAKEN_API_KEY=... KRAKEN_API_SECRET=... scripts/run-live.sh [extra kraken-global live options]
#   KG_CREDENTIALS=/path/to/credentials.json scripts/run-live.sh
# The key and secret are passed by name (--env NAME), so they never appear in `ps` or the shell history of this
# script; or KG_CREDENTIALS names a JSON file {"key": ..., "secret": ...} with mode 0600 (yours: the container runs
# as you), mounted read-only as /run/secrets/kraken.json. The API key's lock and nonce floor live in
# $KG_HOME/locks: a second container on the same key is refused, and a restarted one keeps the nonces growing.
# The status is on http://127.0.0.1:8791/status; `docker stop kraken-global-live` stops the session cleanly
# (SIGTERM: open orders cancelled, results written, exit 0). Settings: lib-container.sh.
set -euo pipefail
source "$(dirname "$0")/lib-container.sh"
if [[ -n "${KG_CREDENTIALS:-}" ]]; then
  credentials=$(kg_absolute "$KG_CREDENTIALS")
  [[ -f "$credentials" ]] || kg_refuse "KG_CREDENTIALS=$KG_CREDENTIALS: no such file ($credentials); give the JSON" \
    "file with \"key\" and \"secret\" (mode 0600)"
  kg_run live 8791 --mount "type=bind,src=$credentials,dst=/run/secrets/kraken.json,readonly" \
    -- --credentials /run/secrets/kraken.json "$@"
fi
[[ -n "${KRAKEN_API_KEY:-}" && -n "${KRAKEN_API_SECRET:-}" ]] \
  || kg_refuse "set KRAKEN_API_KEY and KRAKEN_API_SECRET, or KG_CREDENTIALS=/path/to/credentials.json"
kg_run live 8791 --env KRAKEN_API_KEY --env KRAKEN_API_SECRET -- "$@"
