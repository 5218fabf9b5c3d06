#!/usr/bin/env bash
# Times one kernel's install on this host, four ways, on the same Lmod module
# tree and the same offline wheelhouse, cold (no venv, empty download caches)
# and warm (everything in place, nothing changed):
#   a  per-package: the original Bash installer's approach, re-done here: a venv
#      if absent, then for each package of each group `pip list` and, when the
#      package is not listed, its own `pip install`
#   b  baseline: a venv, then one `pip install` of every group's packages
#   c  hpc-kernels install --installer pip
#   d  hpc-kernels install --installer uv
# c and d also verify imports and start the kernel through jupyter_client, which
# a and b do not. Prints one table of medians and ratios (to a).
#
#   bench/install.sh [path/to/hpc-kernels]     default: cargo build --release
#   RUNS=5 KERNELS=2 PACKAGES="ipykernel requests" bench/install.sh
# KERNELS=2 installs two kernels of the same packages (two venvs) per run.
#
# Needs Lmod, python3 with venv, network once (the wheelhouse is downloaded into
# a temporary directory), and uv on PATH or in the tools venv for d. Uses
# hyperfine when installed (Debian package hyperfine), else its own loop.
# Workspaces of finished runs are moved aside, not deleted, until the end:
# deleting a just-written venv slows the next runs on this kind of machine.
set -euo pipefail

cd "$(dirname "$0")/.."
bin=${1:-}
if [[ -z $bin ]]; then
    cargo build --release --quiet
    bin=${CARGO_TARGET_DIR:-target}/release/hpc-kernels
fi
bin=$(realpath "$bin")
runs=${RUNS:-3}
kernels=${KERNELS:-1}
[[ $kernels == 1 || $kernels == 2 ]] || { echo "bench: KERNELS is 1 or 2" >&2; exit 2; }
packages=${PACKAGES:-ipykernel ipywidgets requests beautifulsoup4 plotly sympy}
python=$(command -v "${PYTHON:-python3}")
cache=${HPC_KERNELS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hpc-kernels}
lmod_init=/usr/share/lmod/lmod/init/bash
[[ -r $lmod_init ]] || { echo "bench: needs Lmod ($lmod_init); scripts/setup-host.sh installs it" >&2; exit 3; }
if ! command -v uv >/dev/null; then
    [[ -x $cache/tools/venv/bin/uv ]] || { echo "bench: needs uv on PATH or in $cache/tools/venv (scripts/setup-host.sh)" >&2; exit 3; }
    PATH=$cache/tools/venv/bin:$PATH
fi

root=$(mktemp -d /tmp/hpc-kernels-bench-install.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "bench: $runs runs each, $kernels kernel(s) of: $packages; $(nproc) cores; work in $root"

# The module tree: a sticky release and Demo/1.0, as the host tests make it.
mkdir -p "$root/modules/release" "$root/modules/Demo" "$root/sw/demo_pkg"
echo 'add_property("lmod","sticky")' >"$root/modules/release/23.10.lua"
printf 'setenv("EBVERSIONDEMO","1.0")\nprepend_path("PYTHONPATH","%s")\n' "$root/sw" >"$root/modules/Demo/1.0.lua"
echo "__version__ = '1.0'" >"$root/sw/demo_pkg/__init__.py"
export MODULEPATH=$root/modules

# The wheelhouse: every wheel the packages need, as a PEP 503 index on disk.
echo "bench: downloading the wheelhouse"
"$python" -m venv "$root/dl"
# shellcheck disable=SC2086
"$root/dl/bin/python" -m pip download --quiet --disable-pip-version-check --only-binary :all: -d "$root/wheels" $packages
"$root/dl/bin/python" - "$root/wheels" "$root/simple" <<'PY'
import os, re, sys
wheels, simple = sys.argv[1:]
projects = {}
for f in sorted(os.listdir(wheels)):
    projects.setdefault(re.sub(r"[-_.]+", "-", f.split("-")[0]).lower(), []).append(f)
for name, files in projects.items():
    os.makedirs(os.path.join(simple, name))
    links = "".join('<a href="file://%s/%s">%s</a>\n' % (wheels, f, f) for f in files)
    with open(os.path.join(simple, name, "index.html"), "w") as out:
        out.write("<!DOCTYPE html><html><body>\n%s</body></html>\n" % links)
PY
index=file://$root/simple
# Nothing from this host's pip configuration: every method sees only the wheelhouse.
export PIP_CONFIG_FILE=/dev/null PIP_INDEX_URL=$index PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL

read -r -a pkgs <<<"$packages"
kernel_json() { echo "\"$1\": { \"name\": \"$1\", \"module_load\": [\"Demo/1.0\"], \"pip_dependencies\": [\"jupyter\", \"extra\"], \"check_libs\": \"demo_pkg ipykernel\" }"; }
kernel_entries=$(kernel_json demo)
((kernels == 2)) && kernel_entries="$kernel_entries, $(kernel_json demo2)"
cat >"$root/spec.json" <<EOF
{ "modules_by_cluster": { "bench": "release/23.10" },
  "pip_module_groups": { "jupyter": "ipykernel", "extra": "${pkgs[*]:1}" },
  "kernels": { $kernel_entries } }
EOF

# One method's run in workspace $ws (the caches live in it: cold means empty).
cat >"$root/method.sh" <<'EOF'
#!/bin/bash
set -euo pipefail
method=$1 ws=$2
source /usr/share/lmod/lmod/init/bash
export HOME=$ws/home PIP_CACHE_DIR=$ws/cache/pip UV_CACHE_DIR=$ws/cache/uv
mkdir -p "$HOME"
case $method in
a | b)
    for ((k = 1; k <= KERNELS; k++)); do
        module purge && module load release/23.10 Demo/1.0
        venv=$ws/venv-$k
        [[ -d $venv ]] || "$PYTHON" -m venv --system-site-packages "$venv"
        if [[ $method == a ]]; then
            for p in $PACKAGES; do
                "$venv/bin/python" -m pip list 2>/dev/null | grep -qi "^$p " || "$venv/bin/python" -m pip install -q "$p"
            done
        else
            # shellcheck disable=SC2086
            "$venv/bin/python" -m pip install -q $PACKAGES
        fi
        mkdir -p "$HOME/kernels/demo-$k"
        printf '{"argv": ["%s/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "Demo", "language": "python"}\n' "$venv" >"$HOME/kernels/demo-$k/kernel.json"
    done
    ;;
c | d)
    installer=pip
    [[ $method == d ]] && installer=uv
    "$BIN" install "$SPEC" --partition bench --workspace "$ws/ws" --prefix "$ws/prefix" --python "$PYTHON" \
        --installer "$installer" --cache-dir "$ws/cache" --index-url "$INDEX" >/dev/null 2>"$ws/err" ||
        { cat "$ws/err" >&2; exit 1; }
    ;;
esac
EOF
chmod +x "$root/method.sh"
export BIN=$bin SPEC=$root/spec.json PYTHON=$python PACKAGES=$packages INDEX=$index KERNELS=$kernels

aside=$root/aside
mkdir -p "$aside"
# `cold M`: a fresh workspace per run (the last one moved aside first).
# `warm M`: one cold run, then reruns of the same workspace.
fresh() { if [[ -e $root/ws-$1 ]]; then mv "$root/ws-$1" "$aside/$1-$RANDOM$RANDOM"; fi; mkdir -p "$root/ws-$1"; }
declare -A median
time_runs() { # NAME PREPARE COMMAND
    local name=$1 prepare=$2 command=$3
    if command -v hyperfine >/dev/null; then
        hyperfine --shell bash --runs "$runs" --prepare "$prepare" --export-json "$root/$name.json" --style none "$command" >/dev/null
        median[$name]=$(python3 -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$root/$name.json")
    else
        local times=() i start
        for ((i = 0; i < runs; i++)); do
            bash -c "$prepare"
            start=$EPOCHREALTIME
            bash -c "$command"
            times+=("$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')")
        done
        median[$name]=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }')
    fi
    printf '  %-8s %8s s\n' "$name" "${median[$name]}"
}
export -f fresh
export root aside

methods=(a b c d)
for m in "${methods[@]}"; do
    echo "bench: method $m"
    time_runs "$m-cold" "fresh $m" "$root/method.sh $m $root/ws-$m"
    time_runs "$m-warm" "true" "$root/method.sh $m $root/ws-$m"
done

label() {
    case $1 in
    a) echo "per-package pip install + pip list" ;;
    b) echo "venv + one pip install" ;;
    c) echo "hpc-kernels install --installer pip" ;;
    d) echo "hpc-kernels install --installer uv" ;;
    esac
}
echo
printf '%-38s %10s %10s %12s %12s\n' "method ($kernels kernel(s), $runs runs, medians)" "cold s" "warm s" "cold vs a" "warm vs a"
for m in "${methods[@]}"; do
    printf '%-38s %10s %10s %11sx %11sx\n' "$m  $(label "$m")" "${median[$m-cold]}" "${median[$m-warm]}" \
        "$(awk -v a="${median[a-cold]}" -v x="${median[$m-cold]}" 'BEGIN { printf "%.1f", a / x }')" \
        "$(awk -v a="${median[a-warm]}" -v x="${median[$m-warm]}" 'BEGIN { printf "%.1f", a / x }')"
done
echo "(ratios: how many times faster than a; c and d also check imports and start the kernel)"
