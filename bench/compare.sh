#!/usr/bin/env bash
# Runs B1 to B4 of `mixflow bench` and the same workloads in PyTorch (bench/torch_ref.py) on this
# machine, one after the other with the same thread count, and prints one line per benchmark:
#   B1 ours=<figure> torch=<figure> ratio=<speed-up of ours over torch>
# then the B3 shader and B5 figures, which have no PyTorch twin. Extra arguments go to both sides
# (e.g. --repeats 3). PYTHON picks the interpreter that has torch (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Mesa's Vulkan complains on every start without one; the benchmarks draw offscreen anyway.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work}

if ! "$PYTHON" -c 'import torch, numpy, scipy' 2>/dev/null; then
    cat >&2 <<EOF
PyTorch (with numpy and scipy) is not installed for $PYTHON, so there is nothing to compare with.
Install it, preferably in a virtual environment, then run this again:
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -r bench/requirements.txt
    PYTHON=bench/.venv/bin/python bench/compare.sh
(CPU-only wheels are smaller: add --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple)
EOF
    exit 2
fi

echo "building mixflow (release)..." >&2
cargo build --release --quiet --bin mixflow
mixflow=${CARGO_TARGET_DIR:-target}/release/mixflow
threads=$(nproc)

"$mixflow" bench --write-data "$work/data"
echo "running mixflow bench (threads: $threads)..." >&2
"$mixflow" bench --json "$@" >"$work/ours.json"
echo "running bench/torch_ref.py (threads: $threads)..." >&2
"$PYTHON" bench/torch_ref.py --json --threads "$threads" --data "$work/data" \
    $(printf '%s\n' "$@" | grep -E -A1 -- '^--(repeats|batch|particles|euler-steps)(=|$)' | grep -v -- '^--$' || true) \
    >"$work/torch.json"

"$PYTHON" - "$work/ours.json" "$work/torch.json" <<'EOF'
import json, sys
ours, torch = (json.load(open(p)) for p in sys.argv[1:3])
theirs = {f["id"]: f for f in torch["figures"]}
print(f"threads: ours {ours['threads']}, torch {torch['threads']} ({torch['backend']}); ours on {ours['backend']}")
for f in ours["figures"]:
    t = theirs.get(f["id"])
    unit = f["unit"]
    if t is None:
        print(f"{f['id']} ours={f['median']:.4g} {unit} (range {f['min']:.4g}-{f['max']:.4g}) torch=n/a  {f['detail']}")
        continue
    # The ratio is always ours' speed-up: rates divide ours by torch, times torch by ours.
    ratio = f["median"] / t["median"] if f["higher_is_better"] else t["median"] / f["median"]
    print(f"{f['id']} ours={f['median']:.4g} torch={t['median']:.4g} ratio={ratio:.2f}x  "
          f"[{unit}; ours {f['min']:.4g}-{f['max']:.4g}, torch {t['min']:.4g}-{t['max']:.4g}]")
    print(f"   ours: {f['detail']}\n   torch: {t['detail']}")
for s in ours.get("skipped", []):
    print(f"{s['id']} skipped: {s['reason']}")
EOF
