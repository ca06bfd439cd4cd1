#!/usr/bin/python3
"""Plot bf16's effect on PatchCore's accuracy (docs/backbone.md, "bf16 end to end, native").

    /usr/bin/python3 tools/plot_bf16_accuracy.py OUT.png RUNS.jsonl

RUNS.jsonl holds `rp-tune run` lines with a "setting" (fp32 or native) and a "coreset" (0.1 or 1)
added, as docs/data/bf16_native_accuracy.jsonl does. One panel per shared set and figure (image
AUROC, pixel AUROC, AUPRO): each coreset seed's value at 10 % as a dot, fp32 and bf16 side by side,
their means as bars, and the run without a coreset (every training patch kept, so no seed) as a
diamond. The picture shows what the tables say: at 10 % the seeds scatter both precisions alike,
and without the selection's noise the two precisions sit on top of each other. Needs Debian's
python3-matplotlib (a documentation tool, not part of the build or the tests).
"""
import collections
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FIGURES = [("image_auroc", "image AUROC"), ("pixel_auroc", "pixel AUROC"), ("aupro", "AUPRO")]
SETTINGS = [("fp32", "fp32", "tab:blue"), ("native", "bf16", "tab:orange")]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    out, path = sys.argv[1], sys.argv[2]
    # (category, figure) -> setting -> coreset -> values
    runs = collections.defaultdict(lambda: collections.defaultdict(lambda: collections.defaultdict(list)))
    categories = []
    for line in open(path):
        if not line.strip().startswith("{"):
            continue
        r = json.loads(line)
        c = r["category"].replace(".rpfc", "")
        if c not in categories:
            categories.append(c)
        for key, _ in FIGURES:
            if r.get(key) is not None:
                runs[(c, key)][r["setting"]][float(r["coreset"])].append(100.0 * r[key])
    panels = [(c, key, label) for c in categories for key, label in FIGURES if (c, key) in runs]
    cols = 3
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (c, key, label) in zip(axes.flat, panels):
        for x, (setting, name, colour) in enumerate(SETTINGS):
            seeds = runs[(c, key)][setting].get(0.1, [])
            if seeds:
                jitter = [x - 0.15 + 0.3 * i / max(1, len(seeds) - 1) for i in range(len(seeds))]
                ax.scatter(jitter, seeds, s=12, color=colour, alpha=0.7,
                           label="%s, 10 %% coreset, %d seeds" % (name, len(seeds)) if c == categories[0] and key == "image_auroc" else None)
                m = sum(seeds) / len(seeds)
                ax.hlines(m, x - 0.25, x + 0.25, color=colour, linewidth=2)
            full = runs[(c, key)][setting].get(1.0, [])
            if full:
                ax.scatter([x + 0.35], full, marker="D", s=36, color=colour, edgecolor="black",
                           label="%s, no coreset" % name if c == categories[0] and key == "image_auroc" else None)
        ax.set_xticks([0, 1])
        ax.set_xticklabels([name for _, name, _ in SETTINGS])
        ax.set_xlim(-0.5, 1.6)
        ax.set_title("%s: %s" % (c, label), fontsize=9)
        ax.set_ylabel("points", fontsize=8)
        ax.tick_params(labelsize=8)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right", fontsize=8, ncol=2)
    fig.suptitle("PatchCore, fp32 against native bf16 features (bars: means over the seeds)", fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
