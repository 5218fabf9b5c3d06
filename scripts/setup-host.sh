#!/usr/bin/env bash
# Installs what hpc-kernels and its test suite need on a Debian host:
# Lmod (host installs), mmdebstrap (partition images), shellcheck and xmllint
# (launcher and JUnit checks), chromium (HTML report check), Python packages
# for the report tests.
# Idempotent: a second run installs nothing.
set -euo pipefail

packages=(lmod mmdebstrap shellcheck libxml2-utils python3-venv ca-certificates chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 -c 'import junitparser' 2>/dev/null || python3 -m pip install -q --disable-pip-version-check junitparser
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
docker info >/dev/null 2>&1 || { echo "setup: Docker Engine is not reachable (docker info failed)" >&2; exit 3; }
echo "setup: ok"
