#!/usr/bin/env python3
"""One table from rp-eval --calibrate N[,N...] JSON files (each calibration of each category): per category and N, the nominal false-reject
rate of the rule, the measured false-reject and escape rates of the image threshold, and the
same for the defect mask (good images with any defect pixel, defective images with none) and the
pixel false-positive rate on good images. Markdown, for docs/pipeline.md."""
import json
import sys


def pct(v):
    return "n/a" if v is None else f"{100 * v:.1f}%"


def main(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            run = json.load(f)
        for name, c in run["categories"].items():
            rows.append((name, c))
            rows.extend((name, sub) for sub in c.get("calibration_subsets", []))
    rows.sort(key=lambda r: (r[0], r[1]["calibration_images"]))
    print("| category | calibration images | nominal false-reject | false-reject (good flagged) | escape (defects passed)"
          " | mask false-reject | mask escape | pixel FPR on good | FP / good | FN / defective |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, c in rows:
        m = c["confusion"]
        print(f"| {name} | {c['calibration_images']} | {pct(c['nominal_false_reject_rate'])} | "
              f"{pct(c['false_reject_rate'])} | {pct(c['escape_rate'])} | {pct(c['mask_false_reject_rate'])} | "
              f"{pct(c['mask_escape_rate'])} | {100 * c['pixel_false_positive_rate']:.3f}% | "
              f"{m['fp']} / {m['fp'] + m['tn']} | {m['fn']} / {m['fn'] + m['tp']} |")


if __name__ == "__main__":
    main(sys.argv[1:])
