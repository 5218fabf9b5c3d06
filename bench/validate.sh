#!/usr/bin/env bash
# Times a validate matrix (default: the example, 3 partitions × 2 kernels)
# cold (no images, empty cache: rootfs, module code, index) and warm, and
# what real resolution costs: warm runs that install every venv afresh
# (--reinstall) with real files, with every wheel a stand-in (`--wheels
# metadata`: resolution only) and with the generated wheelhouse (`--wheels
# synthetic`: no resolution at all); then the default warm run, which keeps
# each cell's venv from the run before (pip not rerun, every check rerun).
# Prints one table.
#   bench/validate.sh [SPEC] [--warm-only]
# --warm-only keeps the images and the user's cache (no cold run).
# INSTALLER=uv: the installs in the containers use uv (default pip).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 3
spec=fixtures/specs/example.json
warm_only=false
for arg in "$@"; do
  case $arg in
    --warm-only) warm_only=true ;;
    *) spec=$arg ;;
  esac
done
cargo build --release --quiet || exit 3
bin=target/release/hpc-kernels
if $warm_only; then
  cache=${HPC_KERNELS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hpc-kernels}
  out=$(mktemp -d /tmp/hpc-kernels-bench.XXXXXX)
  scratch=$out
else
  cache=$(mktemp -d /tmp/hpc-kernels-bench.XXXXXX)
  out=$cache
  scratch=$cache
fi
trap 'rm -rf "$scratch"' EXIT
index=(--exclude-newer 2026-01-15)
# The PyTorch CPU index cannot be reached from here: record it from PyPI.
if grep -q 'https://download.pytorch.org/whl/cpu' "$spec"; then
  index+=(--index-map https://download.pytorch.org/whl/cpu=https://pypi.org/simple)
fi

remove_images() {
  docker images --filter label=org.hpc-kernels.managed --format '{{.ID}}' | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
}

rows=()
run() {
  local name=$1 start end code requests
  shift
  start=$EPOCHREALTIME
  "$bin" validate "$spec" --installer "${INSTALLER:-pip}" --cache-dir "$cache" --junit "$out/$name.xml" "$@" >"$out/$name.out" 2>"$out/$name.err"
  code=$?
  end=$EPOCHREALTIME
  requests=$(grep -o 'requests that went to an index this run: [0-9]*' "$out/$name.out" | grep -o '[0-9]*$' || true)
  rows+=("$(printf '%-28s %8.1f s   exit %d   index requests %s' "$name" "$(awk "BEGIN { print $end - $start }")" "$code" "${requests:--}")")
}

echo "benchmark: $spec, installer ${INSTALLER:-pip}, $(nproc) cores"
if ! $warm_only; then
  remove_images
  run "cold (budget)" "${index[@]}"
fi
run "warm, reinstall" "${index[@]}" --reinstall
run "warm, reinstall, metadata" "${index[@]}" --reinstall --wheels metadata
run "warm, reinstall, synthetic" --reinstall --wheels synthetic
# The cold run kept the venvs already; with --warm-only this one may install them.
run "warm, venvs kept (1st)" "${index[@]}"
run "warm, venvs kept" "${index[@]}"
printf '%s\n' "${rows[@]}"
echo "matrix (warm, venvs kept):"
cat "$out/warm, venvs kept.out"
