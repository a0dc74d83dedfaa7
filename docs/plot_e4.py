"""E4's figure: extrapolation quality against the dimension, from results/e4.json.

Usage: python3 docs/plot_e4.py [results/e4.json] [docs/e4.png]  (needs matplotlib)
"""
import json
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

source = sys.argv[1] if len(sys.argv) > 1 else "results/e4.json"
target = sys.argv[2] if len(sys.argv) > 2 else "docs/e4.png"
results = json.load(open(source))

# (method, metric) -> D -> values over seeds, extrapolation split only.
values = defaultdict(lambda: defaultdict(list))
floors = defaultdict(list)
for row in results["rows"]:
    if row["split"] != "extrapolation":
        continue
    d = row["dim"]
    for metric in ("energy", "mmd2", "w2"):
        values[(row["method"], metric)][d].append(row[metric])
    floors[d].append(row["w2_floor"])

methods = sorted({m for m, _ in values})
titles = {"energy": "energy distance", "mmd2": "MMD²", "w2": "W2"}
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for ax, metric in zip(axes, ("energy", "mmd2", "w2")):
    for method in methods:
        by_d = values[(method, metric)]
        dims = sorted(by_d)
        mean = [statistics.mean(by_d[d]) for d in dims]
        std = [statistics.pstdev(by_d[d]) for d in dims]
        ax.errorbar(dims, mean, yerr=std, marker="o", capsize=3, label=method)
    if metric == "w2":
        dims = sorted(floors)
        ax.plot(dims, [statistics.mean(floors[d]) for d in dims], "k--", lw=1, label="W2 floor")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(floors), [str(d) for d in sorted(floors)])
    ax.set_xlabel("dimension D")
    ax.set_title(f"extrapolation {titles[metric]}")
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=8)
fig.suptitle(
    f"E4, lowdim-perturbation: {results['steps']} steps, seeds {results['seeds']}, mean ± std", fontsize=10
)
fig.tight_layout()
fig.savefig(target, dpi=110)
print(f"wrote {target}")
