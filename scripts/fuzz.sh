#!/usr/bin/env bash
# Fuzzes spec lint → plan → render (fuzz/fuzz_targets/spec_lint_plan.rs) for a
# time budget: no input may panic.
#
#   scripts/fuzz.sh [SECONDS]      default 60
#
# Installs cargo-fuzz when missing, seeds the corpus from fixtures/specs, runs
# libFuzzer and prints one summary line. Exits 1 when a crash, timeout or
# out-of-memory artifact appeared in fuzz/artifacts/spec_lint_plan/ during this
# run (its base64 and the panic message are printed), 2 on a usage error.
#
# Stable toolchain: the target is built with `--sanitizer none` (the code under
# test is safe Rust, AddressSanitizer would only halve the speed) and with
# debug assertions, so integer overflows panic as they do in tests. With no
# sanitizer cargo-fuzz passes no -Z flag and plain stable rustc builds it.
# FUZZ_SANITIZER=address switches AddressSanitizer on; that needs
# `-Zsanitizer`, which stable rustc accepts only with RUSTC_BOOTSTRAP=1, so the
# script sets that variable for the sanitizer builds.
#
# Environment: FUZZ_SANITIZER (none|address, default none), FUZZ_TARGET_DIR
# (default fuzz/target: fuzz builds use other RUSTFLAGS than the normal build and
# would otherwise make the two evict each other), FUZZ_MAX_LEN (default 8192).
# The first build takes about 10 minutes on 2 cores.
set -euo pipefail

target=spec_lint_plan
budget="${1:-60}"
if ! [[ $budget =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS]  (a positive whole number of seconds, got \"$budget\")" >&2
  exit 2
fi
sanitizer="${FUZZ_SANITIZER:-none}"
case "$sanitizer" in
  none) ;;
  address) export RUSTC_BOOTSTRAP=1 ;;
  *) echo "fuzz: FUZZ_SANITIZER must be none or address, got \"$sanitizer\"" >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
target_dir="${FUZZ_TARGET_DIR:-$repo/fuzz/target}"
corpus="fuzz/corpus/$target"
artifacts="fuzz/artifacts/$target"
logs="fuzz/logs"
mkdir -p "$corpus" "$artifacts" "$logs"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# Seeds are copied, not committed twice; libFuzzer names the inputs it adds by
# their SHA-1, so the seed- prefix keeps them apart.
for seed in fixtures/specs/example.json fixtures/specs/good/*.json fixtures/specs/bad/*.json; do
  cp "$seed" "$corpus/seed-$(basename "$(dirname "$seed")")-$(basename "$seed")"
done

build_flags=(--sanitizer "$sanitizer" --debug-assertions --target-dir "$target_dir")
echo "fuzz: building $target (sanitizer $sanitizer)"
cargo fuzz build "${build_flags[@]}" "$target"

log="$logs/$target-$(date +%Y%m%d-%H%M%S).log"
started="$logs/.started"
touch "$started"
echo "fuzz: running $target for ${budget}s (log $log)"
run_start=$SECONDS
set +e
cargo fuzz run "${build_flags[@]}" "$target" "$corpus" -- \
  -max_total_time="$budget" -print_final_stats=1 -dict=fuzz/json.dict \
  -max_len="${FUZZ_MAX_LEN:-8192}" -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1
status=$?
set -e
elapsed=$((SECONDS - run_start))

stat() { sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$log" | tail -n 1 || true; }
execs="$(stat number_of_executed_units)"
rate="$(stat average_exec_per_sec)"
mapfile -t found < <(find "$artifacts" -maxdepth 1 -type f \
  \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) -newer "$started" | sort)
# The last status line: "#N DONE cov: C ft: F corp: U/SIZE …".
coverage="$({ grep -E '^#[0-9]+' "$log" || true; } | tail -n 1 | sed -n 's/.* cov: \([0-9]*\).* corp: \([0-9]*\).*/\1 edges, corpus \2 inputs/p')"

echo "fuzz: $target: ${execs:-unknown} executions in ${elapsed}s (${rate:-?}/s), ${coverage:-coverage unknown}, crashes found: ${#found[@]}"
if [ "${#found[@]}" -gt 0 ]; then
  grep -m 1 -A 2 "panicked at" "$log" >&2 || grep -m 5 "ERROR: libFuzzer" "$log" >&2 || true
  for artifact in "${found[@]}"; do
    echo "fuzz: artifact $artifact (base64):" >&2
    base64 -w 0 "$artifact" >&2
    echo >&2
  done
  echo "fuzz: reproduce with: cargo fuzz run ${build_flags[*]} $target ${found[0]}" >&2
  exit 1
fi
if [ "$status" -ne 0 ] || [ -z "$execs" ]; then
  echo "fuzz: libFuzzer exited with status $status without a crash artifact; last lines of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
