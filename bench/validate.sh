#!/usr/bin/env bash
# Times the full example matrix (3 partitions × 2 kernels): cold (no images,
# no rootfs or wheel cache) and warm (everything cached). Prints both.
#   bench/validate.sh [SPEC]        default: fixtures/specs/example.json
#   INSTALLER=uv bench/validate.sh  the installs in the containers use uv (default pip)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 3
spec=${1:-fixtures/specs/example.json}
cargo build --release --quiet || exit 3
bin=target/release/hpc-kernels
cache=$(mktemp -d /tmp/hpc-kernels-bench.XXXXXX)
trap 'rm -rf "$cache"' EXIT

remove_images() {
  docker images --filter label=org.hpc-kernels.managed --format '{{.ID}}' | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
}

run() {
  local start end
  start=$EPOCHREALTIME
  "$bin" validate "$spec" --installer "${INSTALLER:-pip}" --cache-dir "$cache" --junit "$cache/results.xml" >"$cache/$1.out" 2>"$cache/$1.err"
  local code=$?
  end=$EPOCHREALTIME
  printf '%-5s %7.1f s  (exit %d)\n' "$1" "$(awk "BEGIN { print $end - $start }")" "$code"
}

echo "benchmark: $spec, installer ${INSTALLER:-pip}, $(nproc) cores"
remove_images
run cold
run warm
run warm2
echo "matrix (warm):"
cat "$cache/warm.out"
