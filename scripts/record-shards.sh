#!/bin/sh
# Records fixtures/report/shards/: the example spec validated on the emulated
# partitions as one run and as four shards (JUnit and JSON each), for the
# `report merge` tests in tests/cli_shard.rs. Needs Docker; takes a few minutes.
set -eu
cd "$(dirname "$0")/.." || exit 3
bin=${HPC_KERNELS_BIN:-target/debug/hpc-kernels}
spec=fixtures/specs/example.json
out=fixtures/report/shards
mkdir -p "$out"
# validate exits 1 on this spec on purpose (barnard and romeo fail).
"$bin" validate "$spec" --json --junit "$out/junit.xml" >"$out/results.json" || [ $? -eq 1 ]
for k in 1 2 3 4; do
  "$bin" validate "$spec" --shard "$k/4" --json --junit "$out/junit-$k.xml" >"$out/results-$k.json" || [ $? -eq 1 ]
done
ls -l "$out"
