#!/usr/bin/env python3
"""The table of bench/bf16_rounding_table.sh (docs/backbone.md): per setting, image AUROC / pixel
AUROC / AUPRO of each category, the differences from fp32 in points (mean over the coreset seeds,
its standard error, the seeds' spread and range), the largest mean, and the share of the backbone's
multiply-adds (ResNet-50 through layer3, 224 x 224) the setting runs in bf16.
With one seed (CORESET=1, no selection) it prints the figures without a spread. Rows that carry a
"coreset" field (docs/data/bf16_native_accuracy.jsonl) are kept only if it equals --coreset R.
usage: bf16_rounding_table.py [--coreset R] FP32.jsonl SETTING.jsonl ..."""
import collections
import json
import math
import sys

# Multiply-adds per unit of ResNet-50 (Keras layout: stride on the first 1x1) through layer3.
STAGES = [(64, 3, 56, 1), (128, 4, 28, 2), (256, 6, 14, 2)]  # width, blocks, output side, stride


def unit_macs():
    macs = {"stem": 7 * 7 * 3 * 64 * 112 * 112}
    cin = 64
    for s, (width, blocks, side, stride) in enumerate(STAGES, start=1):
        hw = side * side
        for b in range(blocks):
            m = cin * width * hw + 9 * width * width * hw + width * 4 * width * hw
            if b == 0:
                m += cin * 4 * width * hw  # downsample
            macs["layer%d.%d" % (s, b)] = m
            cin = 4 * width
    return macs


def bf16_share(units):
    macs = unit_macs()
    chosen = set()
    for u in units.split(","):
        if u in ("all", "native"):  # native: oneDNN's own bf16 backbone, every unit
            chosen |= set(macs)
        elif u in macs:
            chosen.add(u)
        else:
            chosen |= {k for k in macs if k.startswith(u + ".")}
    return sum(macs[k] for k in chosen) / sum(macs.values())


def fmt(v):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else "%.4f" % v


def mean(xs):
    return sum(xs) / len(xs)


def sd(xs):
    if len(xs) < 2:
        return float("nan")
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def main(args):
    coreset = None
    if args[:1] == ["--coreset"]:
        coreset, args = float(args[1]), args[2:]
    rows = [json.loads(line) for p in args for line in open(p) if line.strip().startswith("{")]
    rows = [r for r in rows if "coreset" not in r or coreset is None or float(r["coreset"]) == coreset]
    # setting -> category -> bank seed -> row
    by = collections.OrderedDict()
    for r in rows:
        by.setdefault(r["setting"], collections.OrderedDict()).setdefault(
            r["category"].replace(".rpfc", ""), {})[r.get("bank_seed", 0)] = r
    if "fp32" not in by:
        sys.exit("bf16_rounding_table: no fp32 rows")
    keys = ["image_auroc", "pixel_auroc", "aupro"]
    # every setting's own figures first: with a coreset, the seeds scatter each setting by about as
    # much as the change between settings, so the spreads belong beside the change
    for name, got in by.items():
        seeds = sorted({s for c in got.values() for s in c})
        print("%s (mean over coreset seeds %s; the spread in brackets is the standard deviation over "
              "the seeds):" % (name, ", ".join(map(str, seeds))))
        print("| category | " + " | ".join(keys) + " |")
        print("|---|" + "---|" * len(keys))
        for c, per_seed in got.items():
            cells = []
            for k in keys:
                v = [r[k] for r in per_seed.values() if r[k] is not None]
                cells.append(("%s (%.4f)" % (fmt(mean(v)), sd(v)) if len(v) > 1 else fmt(mean(v))) if v else "-")
            print("| %s | %s |" % (c, " | ".join(cells)))
        print()
    base = by.pop("fp32")
    cats = list(base)
    print("Change from fp32 in points, paired by coreset seed: mean ± its standard error (standard "
          "deviation over the seeds; the smallest to the largest single seed's change)")
    print("| setting | in bf16 | " + " | ".join(cats) + " | largest mean change |")
    print("|---|---|" + "---|" * len(cats) + "---|")
    for name, got in by.items():
        units = next(iter(next(iter(got.values())).values())).get("units", "?")
        cells, worst, used = [], 0.0, set()
        for c in cats:
            parts = []
            for k in keys:
                d = [100.0 * (got[c][s][k] - base[c][s][k]) for s in got.get(c, {})
                     if s in base[c] and got[c][s][k] is not None]
                if not d:
                    continue
                used |= set(got[c])
                worst = max(worst, abs(mean(d)))
                parts.append("%+.2f ± %.2f (%.2f; %+.2f to %+.2f)" % (mean(d), sd(d) / math.sqrt(len(d)), sd(d),
                                                                       min(d), max(d))
                             if len(d) > 1 else "%+.2f" % d[0])
            cells.append(" / ".join(parts) if parts else "-")
        print("| %s, seeds %s | %s (%.0f %% of the multiply-adds) | %s | %.2f |" % (
            name, ", ".join(map(str, sorted(used))), units, 100.0 * bf16_share(units), " | ".join(cells), worst))


if __name__ == "__main__":
    main(sys.argv[1:])
