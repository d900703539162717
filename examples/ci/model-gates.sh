#!/usr/bin/env bash
# Run the four gates on a candidate in CI and fail the job unless they pass.
#
#   examples/ci/model-gates.sh CANDIDATE_ID [CONFIG]
#
# Exit codes follow `kraken-global gates`: 0 passed, 1 a gate failed, 2 an error (unknown candidate, bad config).
# The JSON report is kept as gates-report.json for the CI system to archive. Nothing is promoted here:
# promotion stays a person's explicit `kraken-global promote ID --confirm yes-promote`.
set -uo pipefail
candidate=${1:?usage: model-gates.sh CANDIDATE_ID [CONFIG]}
config=${2:-configs/default.yaml}
kraken=${KRAKEN_GLOBAL:-.venv/bin/kraken-global}

"$kraken" gates "$candidate" --config "$config" --output gates-report.json > /dev/null
status=$?
case $status in
  0) echo "gates passed for $candidate" ;;
  1) echo "gates FAILED for $candidate:"
     python3 - <<'PY'
import json
for gate in json.load(open("gates-report.json"))["gates"]:
    if not gate["passed"]:
        print(f"  {gate['name']}: {gate['detail']}")
PY
     ;;
  *) echo "gates could not run for $candidate (exit $status)" ;;
esac
exit $status
