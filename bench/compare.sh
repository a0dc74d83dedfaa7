#!/usr/bin/env bash
# Runs B1 to B4 of `mixflow bench` and the same workloads in PyTorch (bench/torch_ref.py) on this
# machine with the same thread count, in ROUNDS (default 3) interleaved rounds (ours, PyTorch,
# ours, PyTorch, ...): load on these shared machines drifts within a run (two runs ten minutes
# apart, all of one side then the other, gave B1 1.39x and 2.07x), and a ratio of two figures
# measured side by side drifts far less. Prints one line per benchmark:
#   B1 ours=<figure> torch=<figure> ratio=<median of the rounds' speed-ups of ours over torch> (range)
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
torch_args=$(printf '%s\n' "$@" | grep -E -A1 -- '^--(repeats|batch|particles|euler-steps)(=|$)' | grep -v -- '^--$' || true)
rounds=${ROUNDS:-3}
for r in $(seq "$rounds"); do
    echo "round $r of $rounds: mixflow bench, then bench/torch_ref.py (threads: $threads)..." >&2
    "$mixflow" bench --json "$@" >"$work/ours-$r.json"
    # shellcheck disable=SC2086 # one argument per word of torch_args
    "$PYTHON" bench/torch_ref.py --json --threads "$threads" --data "$work/data" $torch_args >"$work/torch-$r.json"
done

"$PYTHON" - "$work" "$rounds" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
ours = [json.load(open(f"{work}/ours-{r}.json")) for r in range(1, rounds + 1)]
torch = [json.load(open(f"{work}/torch-{r}.json")) for r in range(1, rounds + 1)]
print(f"threads: ours {ours[0]['threads']}, torch {torch[0]['threads']} ({torch[0]['backend']}); "
      f"ours on {ours[0]['backend']}; {rounds} interleaved rounds")
for f in ours[0]["figures"]:
    id, unit = f["id"], f["unit"]
    mine = [next(g for g in o["figures"] if g["id"] == id)["median"] for o in ours]
    theirs = [next((g for g in t["figures"] if g["id"] == id), None) for t in torch]
    if None in theirs:
        print(f"{id} ours={statistics.median(mine):.4g} {unit} (rounds {min(mine):.4g}-{max(mine):.4g}) torch=n/a  {f['detail']}")
        continue
    theirs = [t["median"] for t in theirs]
    # The ratio is always ours' speed-up: rates divide ours by torch, times torch by ours.
    ratios = [m / t if f["higher_is_better"] else t / m for m, t in zip(mine, theirs)]
    print(f"{id} ours={statistics.median(mine):.4g} torch={statistics.median(theirs):.4g} "
          f"ratio={statistics.median(ratios):.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f}x)  "
          f"[{unit}; ours {min(mine):.4g}-{max(mine):.4g}, torch {min(theirs):.4g}-{max(theirs):.4g}]")
    print(f"   ours: {f['detail']}")
for s in ours[0].get("skipped", []):
    print(f"{s['id']} skipped: {s['reason']}")
EOF
