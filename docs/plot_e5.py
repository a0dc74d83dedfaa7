"""E5's figures: memorisation against the training set's size, and the gap to the exact field
against t, from results/e5.json.

Usage: python3 docs/plot_e5.py [results/e5.json] [docs/e5.png]  (needs matplotlib)
"""
import json
import re
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

source = sys.argv[1] if len(sys.argv) > 1 else "results/e5.json"
target = sys.argv[2] if len(sys.argv) > 2 else "docs/e5.png"
results = json.load(open(source))

# dataset -> n -> lists over seeds
memorised = defaultdict(lambda: defaultdict(list))
ratio = defaultdict(lambda: defaultdict(list))
gaps = defaultdict(lambda: defaultdict(list))
for row in results["rows"]:
    m = row.get("memorisation")
    if m is None:
        continue
    name = re.sub(r" \(n=\d+\)", "", row["dataset"])
    n = m["train_n"]
    memorised[name][n].append(100 * m["memorised"])
    ratio[name][n].append(m["to_train"] / m["to_held_out"])
    if m.get("gap_by_t"):
        gaps[name][n].append(m["gap_by_t"])


def mean_std(values):
    return statistics.mean(values), (statistics.pstdev(values) if len(values) > 1 else 0.0)


fig, axes = plt.subplots(1, 2 + len(gaps), figsize=(5 * (2 + len(gaps)), 4))
for name in sorted(memorised):
    sizes = sorted(memorised[name])
    for ax, table, label in ((axes[0], memorised, "memorised (% of samples)"), (axes[1], ratio, "distance to train / to held-out")):
        stats = [mean_std(table[name][n]) for n in sizes]
        ax.errorbar(sizes, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o", capsize=3, label=name)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("training points n")
        ax.set_ylabel(label)
axes[1].axhline(1.0, color="grey", linestyle="--", linewidth=1)
axes[0].legend()
for ax, name in zip(axes[2:], sorted(gaps)):
    for n in sorted(gaps[name]):
        runs = gaps[name][n]
        ts = [t for t, _ in runs[0]]
        mean = [statistics.mean(run[b][1] for run in runs) for b in range(len(ts))]
        ax.plot(ts, mean, marker=".", label=f"n = {n}")
    ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("E‖v_θ − u*‖²")
    ax.set_title(f"{name}: gap to the exact field")
    ax.legend(fontsize=8)
fig.suptitle(f"E5: RF on finite training sets, {results['steps']} steps, seeds {results['seeds']}")
fig.tight_layout()
fig.savefig(target, dpi=110)
print(f"wrote {target}")
