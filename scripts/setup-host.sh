#!/usr/bin/env bash
# Installs what hpc-kernels and its test suite need on a Debian 12 host:
# Lmod (host installs), mmdebstrap (partition images), shellcheck and xmllint
# (launcher and JUnit checks), chromium (HTML report check), python3-venv for
# the tools venv: pip for the wheel downloads, junitparser for the report
# tests and uv for `--installer uv` live there, never in the system Python (Debian 12 refuses
# `pip install` into it, and python3-pip is optional).
# Works as root and as a user with sudo. Idempotent: a second run installs nothing.
#
#   scripts/setup-host.sh                  everything, then checks cargo-nextest and Docker
#   scripts/setup-host.sh --packages-only  Debian packages and the tools venv only
set -euo pipefail

packages_only=false
case "${1:-}" in
  --packages-only) packages_only=true ;;
  "") ;;
  *) echo "usage: scripts/setup-host.sh [--packages-only]" >&2; exit 2 ;;
esac

packages=(lmod mmdebstrap shellcheck libxml2-utils python3 python3-venv ca-certificates chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 3; }
    sudo=(sudo)
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The same place hpc-kernels uses (src/paths.rs, src/harness/wheelhouse/tools.rs).
cache="${HPC_KERNELS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/hpc-kernels}"
venv="$cache/tools/venv"
if ! "$venv/bin/python" -c 'import junitparser' 2>/dev/null; then
  echo "setup: making the tools venv $venv (pip, junitparser)"
  mkdir -p "$cache/tools"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check junitparser
  touch "$venv/.hpc-kernels-ready"
fi
# uv (the PyPI wheel) for `--installer uv`: host tests and the harness, which
# mounts this binary into the containers.
if ! "$venv/bin/uv" --version >/dev/null 2>&1; then
  echo "setup: installing uv into the tools venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check uv
fi

if $packages_only; then
  echo "setup: packages ok"
  exit 0
fi
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
docker info >/dev/null 2>&1 || { echo "setup: Docker Engine is not reachable (docker info failed)" >&2; exit 3; }
echo "setup: ok"
