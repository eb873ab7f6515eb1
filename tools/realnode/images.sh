#!/usr/bin/env bash
# Builds the real node's images without a registry and prints one line per image:
#   <name> <OCI archive> <image reference> <manifest digest>
#
#   pause   the sandbox image: the static `pause` binary built by tools/build.sh
#   runner    the runner image, built as runner/Dockerfile builds it, from Debian packages
#             (mmdebstrap) instead of the python base image: the runner and the exact
#             wheels of runner/constraints.txt from PyPI in /opt/runner, uid 65532
#   operator  the operator image, the same way: the operator, the runner package (the
#             runner contract) and operator/constraints.txt in /opt/operator, uid 65532
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
operator_repo=localhost/aischeduler/operator

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

# build_python <dir> <tag> <app> <constraints> <smoke test> <projects...>: a Debian root
# filesystem (mmdebstrap) with python3 and a venv /opt/<app> holding the app installed from
# wheels: the projects built from this checkout, their dependencies exactly as pinned in
# <constraints> from PyPI; runs as the named user `nonroot` (uid/gid 65532).
build_python() {
  local dir=$1 tag=$2 app=$3 constraints=$4 smoke=$5 tmp
  shift 5
  tmp=$(mktemp -d "$dir.XXXX")
  # The wheels come from PyPI on the host (the chroot needs no network), with pip itself
  # to install them.
  mkdir "$tmp/wheels"
  "$python" -m pip wheel --quiet --no-deps --wheel-dir "$tmp/wheels" "$@" >&2
  "$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp/wheels" \
    --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp \
    -r "$constraints" "pip==$("$python" -m pip --version | cut -d' ' -f2)" >&2
  cp "$constraints" "$tmp/wheels/constraints.txt"
  mkdir "$tmp/pip" && mv "$tmp"/wheels/pip-*.whl "$tmp/pip/pip.whl"
  local -a hooks=(
    --customize-hook="copy-in $tmp/wheels $tmp/pip /tmp"
    # A venv without pip, as in the Dockerfiles; pip compiles the byte-code now
    # (deterministically: SOURCE_DATE_EPOCH selects hash-checked .pyc files).
    --customize-hook="chroot \"\$1\" python3 -m venv --without-pip /opt/$app"
    --customize-hook="chroot \"\$1\" env -u PIP_FIND_LINKS sh -c '/opt/$app/bin/python /tmp/pip/pip.whl/pip install --quiet --no-index --no-cache-dir --find-links /tmp/wheels --constraint /tmp/wheels/constraints.txt aischeduler-$app'"
    --customize-hook='rm -rf "$1/tmp/wheels" "$1/tmp/pip"'
    # A name for the uid (kopf asks getpass for it), as distroless images have.
    --customize-hook='echo "nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin" >>"$1/etc/passwd"'
    --customize-hook='echo "nonroot:x:65532:" >>"$1/etc/group"'
    --customize-hook="chroot \"\$1\" setpriv --reuid=65532 --regid=65532 --clear-groups sh -c '$smoke'"
    # Logs and caches written at build time carry the build's clock.
    --customize-hook='rm -rf "$1"/var/log/* "$1"/var/cache/ldconfig/aux-cache "$1"/var/lib/dpkg/*-old "$1"/var/cache/debconf/*-old "$1"/etc/passwd- "$1"/etc/group-'
  )
  mmdebstrap --quiet --variant=essential --include=python3 --mode=root --format=directory \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "${hooks[@]}" "$suite" "$tmp/rootfs" "${mirrors[@]}" >&2
  pack "$tmp/rootfs" "$tmp/layout" "$tag" \
    --config.entrypoint "/opt/$app/bin/aischeduler-$app" --config.user 65532:65532 \
    --config.env "PATH=/opt/$app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --config.env PYTHONDONTWRITEBYTECODE=1 --config.env PYTHONUNBUFFERED=1 \
    --config.env PYTHONNOUSERSITE=1 --config.env PYTHONUTF8=1 \
    --config.label "org.opencontainers.image.title=aischeduler-$app"
  mv "$tmp/layout" "$dir/layout"
  rm -rf "$tmp"
}

build_runner() {  # build_runner <dir> <tag>
  # Smoke test, as the Dockerfile's: without settings the runner exits 2.
  build_python "$1" "$2" runner "$repo/runner/constraints.txt" \
    'AISCHED_RESULT_PATH=/dev/null /opt/runner/bin/aischeduler-runner >/dev/null; [ $? -eq 2 ]' \
    "$repo/runner"
}

build_operator() {  # build_operator <dir> <tag>
  # Smoke test: the operator and kopf import, and the uid has a name.
  build_python "$1" "$2" operator "$repo/operator/constraints.txt" \
    '/opt/operator/bin/python -c "import getpass, aischeduler_operator.handlers; getpass.getuser()"' \
    "$repo/runner" "$repo/operator"
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
runner_inputs=("$repo/runner/pyproject.toml" "$repo/runner/constraints.txt" "$repo/runner/src")
image runner "$runner_repo" "$(key_of "${runner_inputs[@]}")" build_runner
image operator "$operator_repo" "$(key_of "${runner_inputs[@]}" "$repo/operator/pyproject.toml" \
  "$repo/operator/constraints.txt" "$repo/operator/src")" build_operator
