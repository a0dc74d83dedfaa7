#!/usr/bin/env bash
# B6 (SPEC section 8): the browser against native on this machine. ROUNDS (default 3) rounds,
# interleaved: native B1 and B2 (`mixflow bench`, release build, pinned to one core, since the
# wasm module trains on one thread), then the same workloads in headless Chromium (the page's
# `?bench` mode); with them B1's layer alone, the products' throughput. Each figure is printed
# beside its native twin with the ratio browser/native: the median of the rounds' ratios and
# their range (load on these shared machines drifts within a run). Then the app in the page:
# training steps/s and the median frame interval with training on and paused, training in a Web
# Worker and on the page's thread (?worker=off); and what a view costs on its way from a Web
# Worker to the page (encoded and decoded, in the browser).
#   web/bench.sh             build (web and native release), then measure
#   SKIP_BUILD=1 web/bench.sh   reuse web/dist and the release binary
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mixflow-target}"
rounds="${ROUNDS:-3}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  web/build.sh
  cargo build --release --quiet --bin mixflow
fi
. web/serve.sh
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

for r in $(seq "$rounds"); do
  echo "round $r of $rounds: native B1, its layer, B2 (one core), then the browser's" >&2
  taskset -c 0 "$CARGO_TARGET_DIR/release/mixflow" bench --only b1,b1-layer,b2 --json >"$work/native-$r.json"
  node web/bench.mjs "$PAGE_URL" engine >"$work/browser-$r.json"
done
echo "the app in the page (training on and paused; Web Worker, then ?worker=off)" >&2
node web/bench.mjs "$PAGE_URL" app >"$work/app.json"

python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
load = lambda name: {f["id"]: f for f in json.load(open(f"{work}/{name}"))["figures"]}
native = [load(f"native-{r}.json") for r in range(1, rounds + 1)]
browser = [load(f"browser-{r}.json") for r in range(1, rounds + 1)]
for id in ("B1", "B1-layer", "B2"):
    n = [round_[id]["median"] for round_ in native]
    b = [round_[id]["median"] for round_ in browser]
    ratios = [bi / ni for bi, ni in zip(b, n)]
    unit = native[0][id]["unit"]
    print(f"{id} browser={statistics.median(b):.1f} native={statistics.median(n):.1f} {unit}  "
          f"ratio={statistics.median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f}, {rounds} rounds)  "
          f"{native[0][id]['detail']}")
wire = [round_["B6-wire"]["median"] for round_ in browser]
print(f"B6-wire {statistics.median(wire):.1f} ms (rounds {min(wire):.1f}-{max(wire):.1f}) in the browser: "
      f"{browser[0]['B6-wire']['detail']}")
app = json.load(open(f"{work}/app.json"))
for where, a in app.items():
    ratio = a["frameMedianMs"] / a["pausedFrameMedianMs"] if a["pausedFrameMedianMs"] else float("nan")
    print(f"app, training in {'/'.join(a['training'])}: {a['stepsPerS']:.1f} steps/s; median frame "
          f"{a['frameMedianMs']:.1f} ms training, {a['pausedFrameMedianMs']:.1f} ms paused (x{ratio:.2f}); "
          f"a view took {a['view_ms']} ms")
PY
