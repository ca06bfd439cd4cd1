#!/usr/bin/env python3
"""The table of bench/feature_dim_table.sh (docs/features.md): per method and feature dimension,
image AUROC / pixel AUROC / AUPRO of each category, the mean image AUROC over the categories, and
the mean scoring time per test image on cached features.
usage: feature_dim_table.py FEATURE_DIM.jsonl"""
import collections
import json
import math
import sys


def fmt(v):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else "%.4f" % v


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip().startswith("{")]
    groups = collections.OrderedDict()
    for r in rows:
        key = (r["method"], r["feature_dim"])
        groups.setdefault(key, []).append(r)
    cats = list(collections.OrderedDict.fromkeys(r["category"].replace(".rpfc", "") for r in rows))
    print("| method | feature dim | " + " | ".join(cats) + " | mean image AUROC | mean pixel AUROC | score ms |")
    print("|---|---|" + "---|" * len(cats) + "---|---|---|")
    for (method, dim), rs in groups.items():
        by_cat = collections.defaultdict(list)
        for r in rs:
            by_cat[r["category"].replace(".rpfc", "")].append(r)
        cells, img, pix, ms = [], [], [], []
        for c in cats:
            got = by_cat.get(c, [])
            if not got:
                cells.append("-")
                continue
            # several seeds: their mean
            ia = sum(r["image_auroc"] for r in got) / len(got)
            pa = [r["pixel_auroc"] for r in got if r["pixel_auroc"] is not None]
            ap = [r["aupro"] for r in got if r["aupro"] is not None]
            pa = sum(pa) / len(pa) if pa else None
            ap = sum(ap) / len(ap) if ap else None
            cells.append("%s / %s / %s" % (fmt(ia), fmt(pa), fmt(ap)))
            img.append(ia)
            if pa is not None:
                pix.append(pa)
            ms.extend(r["score_ms"] for r in got)
        label = method + ("-%d" % rs[0]["bank_dim"] if method == "reconpatch" else "")
        seeds = sorted({r["seed"] for r in rs}) if method == "reconpatch" else []
        print("| %s%s | %d | %s | %s | %s | %.1f |" % (
            label, " (seeds %s)" % ", ".join(map(str, seeds)) if seeds else "", dim, " | ".join(cells),
            fmt(sum(img) / len(img)) if img else "-", fmt(sum(pix) / len(pix)) if pix else "-",
            sum(ms) / len(ms) if ms else float("nan")))


if __name__ == "__main__":
    main(sys.argv[1])
