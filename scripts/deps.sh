#!/usr/bin/env bash
# Installs every Debian 12 package shoveling needs to build, test and
# benchmark. Idempotent: apt-get skips what is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libzmq3-dev cppzmq-dev libsodium-dev libzstd-dev nlohmann-json3-dev libcli11-dev
  libcurl4-openssl-dev libfuse3-dev fuse3 libreadline-dev
  libgtest-dev libgmock-dev clang clang-format clang-tidy libclang-rt-14-dev
  libasan8 libubsan1 liblsan0 libtsan2
  python3 python3-dev python3-pytest python3-setuptools python3-pip python3-venv python3-yaml
  pybind11-dev prometheus-cpp-dev libspdlog-dev libsystemd-dev
  redis-server redis-tools memcached fuse-overlayfs fio attr iproute2 procps
  psmisc coreutils util-linux curl rsync diffutils openssl
)

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/deps.sh: run as root (apt-get needs it), e.g. sudo $0" >&2
  exit 1
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} packages present" >&2
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
# The Debian packages start redis and memcached as system services; the
# benchmarks start their own on loopback ports, so the system ones are not
# needed (and left as the package set them up).
echo "deps: done" >&2
