#!/usr/bin/env bash
# Builds the real node's images without a registry and prints one line per image:
#   <name> <OCI archive> <image reference> <manifest digest>
#
#   pause   the sandbox image: the static `pause` binary built by tools/build.sh
#   runner  the runner image, built as runner/Dockerfile builds it, from Debian packages
#           (mmdebstrap) instead of the python base image: the runner and the exact
#           wheels of runner/constraints.txt from PyPI in /opt/runner, uid 65532
#
# Usage: images.sh <bin dir of tools/build.sh>   (PYTHON: an interpreter with pip)
#
# Reproducible: SOURCE_DATE_EPOCH fixes every timestamp (files, layers, config, history),
# so the same inputs and the same Debian archive state give the same digest. Each image
# is cached outside the checkout, keyed by its inputs (the Debian suite's state is not an
# input: a cached image is reused until its inputs here change).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:?usage: images.sh <bin dir of tools/build.sh>}
python=${PYTHON:-python3}
root="${AISCHED_IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aischeduler/images}"
export SOURCE_DATE_EPOCH=1767225600  # 2026-01-01T00:00:00Z
created=2026-01-01T00:00:00Z
suite=bookworm
mirrors=(
  "deb http://deb.debian.org/debian $suite main"
  "deb http://deb.debian.org/debian $suite-updates main"
  "deb http://deb.debian.org/debian-security $suite-security main"
)
runner_repo=localhost/aischeduler/runner
pause_repo=localhost/aischeduler/pause

key_of() {  # key_of <file or dir>...: a short hash of the contents and of this script
  (cat "$0"; find "$@" -type f -not -path '*/__pycache__/*' -not -path '*.egg-info/*' \
    | sort | xargs cat) | sha256sum | cut -c1-16
}

# pack <rootfs dir> <layout dir> <tag> <umoci config flags...>: one layer, fixed times.
pack() {
  local rootfs=$1 layout=$2 tag=$3
  shift 3
  find "$rootfs" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference -d "@$SOURCE_DATE_EPOCH" {} +
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci unpack --image "$layout:$tag" "$layout.bundle" >/dev/null
  rmdir "$layout.bundle/rootfs" && mv "$rootfs" "$layout.bundle/rootfs"
  umoci repack --image "$layout:$tag" --history.created "$created" \
    --history.created_by "tools/realnode/images.sh" "$layout.bundle"
  umoci config --image "$layout:$tag" --created "$created" --history.created "$created" \
    --history.created_by "tools/realnode/images.sh" --config.workingdir / "$@"
  umoci gc --layout "$layout"
  rm -rf "$layout.bundle"
}

# emit <name> <dir> <repo> <tag>: archive the layout (fixed order, owners and times).
emit() {
  local name=$1 dir=$2 repo_name=$3 tag=$4
  if [[ ! -f $dir/image.tar ]]; then
    tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
      -cf "$dir/image.tar.tmp" -C "$dir/layout" . && mv "$dir/image.tar.tmp" "$dir/image.tar"
  fi
  local digest
  digest=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' \
    "$dir/layout/index.json")
  echo "$name $dir/image.tar $repo_name:$tag $digest"
}

build_pause() {  # build_pause <dir> <tag>
  local dir=$1 tag=$2 tmp
  tmp=$(mktemp -d "$dir.XXXX")
  mkdir "$tmp/rootfs"
  install -m 0755 "$bin/pause" "$tmp/rootfs/pause"
  pack "$tmp/rootfs" "$tmp/layout" "$tag" --config.entrypoint /pause --config.user 65535:65535
  mv "$tmp/layout" "$dir/layout"
  rm -rf "$tmp"
}

build_runner() {  # build_runner <dir> <tag>
  local dir=$1 tag=$2 tmp
  tmp=$(mktemp -d "$dir.XXXX")
  # The wheels come from PyPI on the host (the chroot needs no network): the runner built
  # from runner/, its dependencies exactly as pinned, and pip itself to install them.
  mkdir "$tmp/wheels"
  "$python" -m pip wheel --quiet --no-deps --wheel-dir "$tmp/wheels" "$repo/runner" >&2
  "$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp/wheels" \
    --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp \
    -r "$repo/runner/constraints.txt" "pip==$("$python" -m pip --version | cut -d' ' -f2)" >&2
  cp "$repo/runner/constraints.txt" "$tmp/wheels/"
  mkdir "$tmp/pip" && mv "$tmp"/wheels/pip-*.whl "$tmp/pip/pip.whl"
  local -a hooks=(
    --customize-hook="copy-in $tmp/wheels $tmp/pip /tmp"
    # A venv without pip, as in runner/Dockerfile; pip compiles the byte-code now
    # (deterministically: SOURCE_DATE_EPOCH selects hash-checked .pyc files).
    --customize-hook='chroot "$1" python3 -m venv --without-pip /opt/runner'
    --customize-hook='chroot "$1" env -u PIP_FIND_LINKS sh -c "/opt/runner/bin/python /tmp/pip/pip.whl/pip install --quiet --no-index --no-cache-dir --find-links /tmp/wheels --constraint /tmp/wheels/constraints.txt aischeduler-runner"'
    --customize-hook='rm -rf "$1/tmp/wheels" "$1/tmp/pip"'
    # Smoke test, as the Dockerfile's: without settings the runner exits 2.
    --customize-hook='chroot "$1" sh -c "AISCHED_RESULT_PATH=/tmp/result.json /opt/runner/bin/aischeduler-runner >/dev/null; [ \$? -eq 2 ]" && rm -f "$1/tmp/result.json"'
    # Logs and caches written at build time carry the build's clock.
    --customize-hook='rm -rf "$1"/var/log/* "$1"/var/cache/ldconfig/aux-cache "$1"/var/lib/dpkg/*-old "$1"/var/cache/debconf/*-old'
  )
  mmdebstrap --quiet --variant=essential --include=python3 --mode=root --format=directory \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "${hooks[@]}" "$suite" "$tmp/rootfs" "${mirrors[@]}" >&2
  pack "$tmp/rootfs" "$tmp/layout" "$tag" \
    --config.entrypoint /opt/runner/bin/aischeduler-runner --config.user 65532:65532 \
    --config.env PATH=/opt/runner/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.env PYTHONDONTWRITEBYTECODE=1 --config.env PYTHONUNBUFFERED=1 \
    --config.env PYTHONNOUSERSITE=1 --config.env PYTHONUTF8=1 \
    --config.label org.opencontainers.image.title=aischeduler-runner
  mv "$tmp/layout" "$dir/layout"
  rm -rf "$tmp"
}

# image <name> <repo> <key> <builder>: build into the cache unless there, then emit.
image() {
  local name=$1 repo_name=$2 key=$3 builder=$4
  local dir="$root/$name-$key"
  if [[ ! -f $dir/layout/index.json ]]; then
    echo ">> building the $name image" >&2
    local start
    start=$(date +%s)
    rm -rf "$dir" "$dir".* && mkdir -p "$dir"  # and what a failed build left
    "$builder" "$dir" "$key"
    echo ">> built the $name image in $(($(date +%s) - start))s" >&2
  fi
  emit "$name" "$dir" "$repo_name" "$key"
}

mkdir -p "$root"
exec 9>"$root/build.lock"  # one build at a time per cache
flock 9
image pause "$pause_repo" "$(key_of "$bin/pause")" build_pause
image runner "$runner_repo" "$(key_of "$repo/runner/pyproject.toml" "$repo/runner/constraints.txt" "$repo/runner/src")" build_runner
