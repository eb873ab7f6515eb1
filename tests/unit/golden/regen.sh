#!/usr/bin/env bash
# Regenerates cron_vectors.json from cron_cases.json with robfig/cron itself, through
# tools/kube/cronvectors (the parser and Next the CronJob controller uses, plus the
# CronJob API's schedule/timeZone validation).
#
#   tests/unit/golden/regen.sh [path/to/cronvectors]
#
# Without an argument it builds cronvectors into a temporary directory (only robfig/cron
# is compiled: seconds). Commit both JSON files together.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bin=${1:-}

if [[ -z "$bin" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$root/tools/kube" &&
    GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -o "$tmp/cronvectors" ./cronvectors)
  bin="$tmp/cronvectors"
fi

"$bin" <"$here/cron_cases.json" >"$here/cron_vectors.json.new"
mv "$here/cron_vectors.json.new" "$here/cron_vectors.json"
echo "wrote $here/cron_vectors.json ($(grep -c '"schedule"' "$here/cron_vectors.json") vectors)"
