#!/usr/bin/env bash
# Installs the Debian packages a real node and its image builds need: the container
# runtime (containerd, runc), the CNI plugins, iptables, and the image tools (mmdebstrap
# builds the root filesystems from Debian packages, umoci turns them into OCI images).
# Idempotent: does nothing when all are installed. Needs root and apt (Debian/Ubuntu).
set -euo pipefail
packages=(containerd runc containernetworking-plugins iptables mmdebstrap umoci)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

[[ $(id -u) -eq 0 ]] || { echo "realnode: root is needed to install ${missing[*]}" >&2; exit 1; }
command -v apt-get >/dev/null || { echo "realnode: apt-get not found (not Debian?)" >&2; exit 1; }
echo ">> installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The packages' own service (containerd.service) must not start: the node runs its own
# containerd with its own state; policy-rc.d 101 tells invoke-rc.d not to start services.
policy=/usr/sbin/policy-rc.d
created_policy=
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[[ -n $created_policy ]] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
  || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; }
