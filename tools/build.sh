#!/usr/bin/env bash
# Builds the local control plane binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd, kwok, helm) and the cron golden-vector generator from
# the pinned Go modules under tools/, into a cache directory keyed by those modules'
# go.mod/go.sum and sources. A second run with the same pins builds nothing.
# Prints the bin directory as its last line.
set -euo pipefail
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

here=$(cd "$(dirname "$0")" && pwd)
# The control plane binaries depend only on the pins; our own small Go program
# (cronvectors) is rebuilt on its own when its source changes.
key=$(cd "$here" && cat build.sh */go.mod */go.sum | sha256sum | cut -c1-16)
vectors_key=$(cd "$here" && cat kube/go.sum $(find kube -name '*.go' | sort) | sha256sum | cut -c1-16)
bin="${AISCHED_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aischeduler/tools}/$key/bin"

mkdir -p "$bin"
# One build at a time per cache (tests and `make` targets may call this concurrently).
exec 9>"$bin/../build.lock"
flock 9

kube_version=v1.36.3
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=36"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=2026-01-01T00:00:00Z"
done

build() {  # build <module dir> <output name> <package>
  echo ">> building $2 ($3)" >&2
  (cd "$here/$1" && go build -trimpath -ldflags "$ldflags" -o "$bin/$2" "$3") >&2
}

if [[ "$(cat "$bin/.cronvectors" 2>/dev/null)" != "$vectors_key" ]]; then
  build kube cronvectors ./cronvectors
  echo "$vectors_key" > "$bin/.cronvectors"
fi
if [[ -f "$bin/.complete" ]]; then
  echo "$bin"
  exit 0
fi

build kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kube kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build kube kubectl k8s.io/kubernetes/cmd/kubectl
build kube etcd go.etcd.io/etcd/server/v3
build kwok kwok sigs.k8s.io/kwok/cmd/kwok
build helm helm helm.sh/helm/v3/cmd/helm
touch "$bin/.complete"
echo "$bin"
