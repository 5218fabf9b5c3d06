#!/usr/bin/env bash
# Measures building the partition images: cold (our images and the cached rootfs
# removed) and warm (rebuild with nothing changed, which must build nothing).
# Usage: bench/images.sh [path/to/hpc-kernels]   (default: cargo build --release)
# Honours HPC_KERNELS_CACHE; removes only images labelled org.hpc-kernels.managed=true.
set -euo pipefail

cd "$(dirname "$0")/.."
bin=${1:-}
if [[ -z $bin ]]; then
    cargo build --release --quiet
    bin=${CARGO_TARGET_DIR:-target}/release/hpc-kernels
fi
cache=${HPC_KERNELS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hpc-kernels}
export HPC_KERNELS_CACHE=$cache

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Containers first (an image in use cannot be removed), then images, then the rootfs.
mapfile -t containers < <(docker ps --all --quiet --filter label=org.hpc-kernels.managed=true)
if ((${#containers[@]})); then docker rm --force "${containers[@]}" >/dev/null; fi
# Partition layers before the base they are built on.
for kind in partition base; do
    mapfile -t images < <(docker images --quiet --filter label=org.hpc-kernels.managed=true \
        --filter "label=org.hpc-kernels.kind=$kind" | sort -u)
    if ((${#images[@]})); then docker rmi --force "${images[@]}" >/dev/null; fi
done
rm -rf "$cache/rootfs"

start=$(now)
"$bin" images build >/dev/null
cold=$(elapsed "$start" "$(now)")

start=$(now)
"$bin" images build >/dev/null
warm=$(elapsed "$start" "$(now)")

printf 'images (alpha, barnard, romeo; release 23.10)\n'
printf '  cold build (mmdebstrap + import + 3 layers): %ss\n' "$cold"
printf '  warm build (cache hit, no docker build):     %ss\n' "$warm"
"$bin" images list
