#!/usr/bin/env bash
# Prints the path of a promtool (Prometheus' rule checker), for the alert tests; `prometheus`
# itself lies beside it (tests/e2e/test_policy_alerts_live.py runs it on loopback).
# Both come from Debian's `prometheus` package, unpacked into the tools cache (not installed:
# no service, no system change). The Go module (cmd/promtool) pulls in every service
# discovery SDK and took far too long to build on a 2-core machine.
set -euo pipefail
version="2.42.0+ds-5+deb12u1"  # Debian 12's; another is taken (and said) when it is gone
root="${AISCHED_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aischeduler/tools}"
mkdir -p "$root"
exec 9>"$root/promtool.lock"
flock 9

for found in "$root"/promtool-*/usr/bin/promtool; do
  if [[ -x "$found" && -x "${found%/promtool}/prometheus" ]]; then
    echo "$found"
    exit 0
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fetch() { (cd "$tmp" && apt-get download -q "$@" >&2 2>&1); }
if ! fetch "prometheus=$version" && ! { apt-get update -q >&2 && fetch "prometheus=$version"; }; then
  echo "promtool.sh: prometheus=$version is not available; taking the candidate version" >&2
  fetch prometheus
fi
deb=("$tmp"/prometheus_*.deb)
got=$(dpkg-deb -f "${deb[0]}" Version)
dest="$root/promtool-$got"
dpkg-deb -x "${deb[0]}" "$tmp/unpacked"
mkdir -p "$dest/usr/bin"
mv "$tmp/unpacked/usr/bin/promtool" "$tmp/unpacked/usr/bin/prometheus" "$dest/usr/bin/"
echo "$dest/usr/bin/promtool"
