#!/usr/bin/env bash
# Builds the pinned test tooling from the Go modules under tools/ (control plane binaries,
# the real node's kubelet and pause, kwok, helm, the cron golden-vector generator, Argo CD's
# Lua runtime, Flux's source- and kustomize-controller, krew and its manifest validator) into
# a cache outside the checkout, and prints, as its last line, one bin directory holding all
# of them.
#
# Each module is cached on its own, keyed by its go.mod, go.sum, Go sources and the build
# flags, so a new tool module, or a change to one, rebuilds only that module's binaries,
# and checkouts with the same pins (worktrees, CI clones) share the builds.
set -euo pipefail
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

here=$(cd "$(dirname "$0")" && pwd)
root="${AISCHED_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aischeduler/tools}"

# binary name, module dir under tools/, Go package
TOOLS=(
  "kube-apiserver kube k8s.io/kubernetes/cmd/kube-apiserver"
  "kube-controller-manager kube k8s.io/kubernetes/cmd/kube-controller-manager"
  "kube-scheduler kube k8s.io/kubernetes/cmd/kube-scheduler"
  "kubectl kube k8s.io/kubernetes/cmd/kubectl"
  "kubelet kube k8s.io/kubernetes/cmd/kubelet"
  "etcd kube go.etcd.io/etcd/server/v3"
  "cronvectors kube ./cronvectors"
  "kwok kwok sigs.k8s.io/kwok/cmd/kwok"
  "helm helm helm.sh/helm/v3/cmd/helm"
  "pause realnode ./pause"
  "argocd-lua argocd ."
  "source-controller flux-source github.com/fluxcd/source-controller"
  "kustomize-controller flux-kustomize github.com/fluxcd/kustomize-controller"
  "kubectl-krew krew sigs.k8s.io/krew/cmd/krew"
  "validate-krew-manifest krew sigs.k8s.io/krew/cmd/validate-krew-manifest"
)

kube_version=v1.36.3
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=36"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=2026-01-01T00:00:00Z"
done

module_key() {  # module_key <module dir>: what its binaries depend on
  (
    cd "$here/$1"
    echo "$ldflags $(go env GOVERSION)"
    cat go.mod go.sum
    find . -name '*.go' | sort | xargs -r cat
  ) | sha256sum | cut -c1-16
}

mkdir -p "$root"
# One build at a time per cache (tests and `make` targets may call this concurrently).
exec 9>"$root/build.lock"
flock 9

declare -A keys=()
paths=()
for entry in "${TOOLS[@]}"; do
  read -r name module package <<<"$entry"
  [[ -n "${keys[$module]:-}" ]] || keys[$module]=$(module_key "$module")
  out="$root/modules/$module-${keys[$module]}/$name"
  if [[ ! -x "$out" ]]; then
    echo ">> building $name ($package)" >&2
    start=$(date +%s)
    (cd "$here/$module" && go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$package") >&2
    mv "$out.tmp" "$out"
    echo ">> built $name in $(($(date +%s) - start))s" >&2
  fi
  paths+=("$out")
done

# One directory of links to the binaries of this exact set of pins.
bin="$root/bin-$(printf '%s\n' "${paths[@]}" | sha256sum | cut -c1-16)"
if [[ ! -d "$bin" ]]; then
  mkdir -p "$bin.tmp"
  for path in "${paths[@]}"; do ln -sf "$path" "$bin.tmp/$(basename "$path")"; done
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
