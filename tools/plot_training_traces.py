#!/usr/bin/python3
"""Plot ReConPatch training traces written by `rp-tune run --trace FILE` (docs/reconpatch.md).

    /usr/bin/python3 tools/plot_training_traces.py OUT.png LABEL=trace.csv [LABEL=trace.csv ...]

Three panels per run, each against the training step: the validation loss with labels from the
moving target and from the frozen initial target (relative to its first value), the share of the
batch's pairs whose pseudo-label w is above 0.5, and the share of each patch's k-1 batch neighbours
that sit at the same or an adjacent grid position of another image. Needs Debian's
python3-matplotlib (a documentation tool, not part of the build or the tests).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in rows[0]}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, runs = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for label, path in runs:
        t = read(path)
        step = t["step"]
        line, = axes[0].plot(step, [v / t["val_loss"][0] for v in t["val_loss"]], label=label + " (moving labels)")
        axes[0].plot(step, [v / t["val_loss_frozen_labels"][0] for v in t["val_loss_frozen_labels"]], ls="--",
                     color=line.get_color(), label=label + " (initial labels)")
        axes[1].plot(step, t["share_w_above_half"], color=line.get_color(), label=label)
        axes[2].plot(step, t["nn_near_position"], color=line.get_color(), label=label + " (within 1 cell)")
        axes[2].plot(step, t["nn_same_position"], color=line.get_color(), ls=":", label=label + " (same cell)")
    axes[0].set_title("validation loss / its first value")
    axes[1].set_title("share of pairs with pseudo-label w > 0.5")
    axes[2].set_title("batch neighbours at the same part of another image")
    for ax in axes:
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
