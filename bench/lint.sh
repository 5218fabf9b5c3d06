#!/usr/bin/env bash
# Times `hpc-kernels lint` on hostile specs just under the 4 MiB input limit:
# one object with ~200,000 distinct keys, one with ~200,000 copies of a key,
# and deep arrays. Each must lint in well under a second; the script exits 1
# when one takes longer than the bound (default 1 s, BOUND=secs to change).
# Usage: bench/lint.sh [path/to/hpc-kernels]   (default: cargo build --release)
set -euo pipefail

cd "$(dirname "$0")/.." || exit 3
bin=${1:-}
if [[ -z $bin ]]; then
    cargo build --release --quiet
    bin=${CARGO_TARGET_DIR:-target}/release/hpc-kernels
fi
bound=${BOUND:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import json, sys
out = sys.argv[1]
limit = 4 * 1024 * 1024 - 4096
def fill(name, member):
    parts, size, i = [], 0, 0
    while True:
        m = member(i)
        if size + len(m) + 1 > limit - 200:
            break
        parts.append(m); size += len(m) + 1; i += 1
    text = '{"modules_by_cluster": {"alpha": "release/23.10"}, "pip_module_groups": {' + ",".join(parts) + '}, "kernels": {}}'
    open(f"{out}/{name}.json", "w").write(text)
    return i
n = fill("distinct-keys", lambda i: f'"g{i}": "x"')
d = fill("duplicate-keys", lambda i: '"g": "x"')
print(f"distinct-keys: {n} keys; duplicate-keys: {d} copies")
PY

printf '%-16s %10s %8s\n' spec bytes seconds
status=0
for spec in "$work"/*.json; do
    name=$(basename "$spec" .json)
    start=$(date +%s.%N)
    "$bin" lint "$spec" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
    printf '%-16s %10d %8s\n' "$name" "$(stat -c %s "$spec")" "$secs"
    awk -v s="$secs" -v b="$bound" 'BEGIN { exit !(s > b) }' && { echo "  over the ${bound}s bound" >&2; status=1; }
done
exit $status
