#!/usr/bin/python3
"""Summarise rp-tune JSON lines into one table: per method (the line's "tag") and category the mean
image AUROC over its runs (seeds) with the range, then the mean over categories (with the range of
the per-seed means when there are several seeds), pixel AUROC, bank dimension and kNN scoring time
per image (median over the runs). A run repeated with the same tag, category and seed counts once.

    /usr/bin/python3 bench/summarize_accuracy.py RESULTS.jsonl [RESULTS.jsonl ...]
"""
import json
import sys
from collections import OrderedDict


def fmt(values):
    if not values:
        return "-"
    mean = sum(values) / len(values)
    if len(values) == 1:
        return "%.4f" % mean
    return "%.4f (%.4f..%.4f, n=%d)" % (mean, min(values), max(values), len(values))


def main():
    runs = []
    for path in sys.argv[1:]:
        with open(path) as f:
            runs += [json.loads(line) for line in f if line.strip()]
    seen, unique = set(), []
    for r in runs:
        key = (r["tag"], r["category"], r.get("seed"))
        if key not in seen:
            seen.add(key)
            unique.append(r)
    runs = unique
    tags = OrderedDict((r["tag"], None) for r in runs)
    cats = list(OrderedDict((r["category"].replace(".rpf", ""), None) for r in runs))
    print("| method | " + " | ".join(cats) + " | mean image AUROC | mean pixel AUROC | bank dim | ms/image |")
    print("|---" * (len(cats) + 5) + "|")
    for tag in tags:
        mine = [r for r in runs if r["tag"] == tag]
        cells, cat_means, pix_means = [], [], []
        for c in cats:
            v = [r["image_auroc"] for r in mine if r["category"].replace(".rpf", "") == c]
            p = [r["pixel_auroc"] for r in mine if r["category"].replace(".rpf", "") == c and r["pixel_auroc"] is not None]
            cells.append(fmt(v))
            if v:
                cat_means.append(sum(v) / len(v))
            if p:
                pix_means.append(sum(p) / len(p))
        complete = len(cat_means) == len(cats)
        mean = "%.4f" % (sum(cat_means) / len(cat_means)) if complete else "(incomplete)"
        seeds = sorted(set(r.get("seed") for r in mine))
        per_seed = []
        for sd in seeds:
            v = [r["image_auroc"] for r in mine if r.get("seed") == sd]
            if len(v) == len(cats):
                per_seed.append(sum(v) / len(v))
        if complete and len(per_seed) > 1:
            mean += " (seeds %.4f..%.4f)" % (min(per_seed), max(per_seed))
        pix = "%.4f" % (sum(pix_means) / len(pix_means)) if complete and pix_means else "-"
        dim = mine[0].get("bank_dim", "")
        ms = sorted(r["score_ms"] for r in mine)[len(mine) // 2]
        print("| %s | %s | %s | %s | %s | %.0f |" % (tag, " | ".join(cells), mean, pix, dim, ms))


if __name__ == "__main__":
    main()
