#!/usr/bin/env python3
"""The markdown table of rp-calibration-splits' JSON lines (docs/pipeline.md): per category and
calibration size, the rule's nominal false-reject rate, the mean over the splits with its spread,
the ratio of the mean to the nominal rate, the escape rate and the defect-mask false-reject rate.
usage: calibration_splits_table.py SPLITS.jsonl"""
import json
import sys


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip().startswith("{")]
    rows = [r for r in rows if not r.get("control")]
    print("| category | calibration images | nominal false-reject | false-reject, mean over splits (sd; lowest to highest) "
          "| mean / nominal | false rejects / good images scored | escape, mean | mask false-reject, mean |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        name = r["category"].replace(".rpfc", "")
        print("| %s | %d | %.1f%% | %.1f%% (%.1f; %.0f%% to %.0f%%) | %.2f | %d / %d | %.1f%% | %.1f%% |" % (
            name, r["calibration_images"], 100 * r["nominal_false_reject_rate"], 100 * r["false_reject_rate_mean"],
            100 * r["false_reject_rate_sd"], 100 * r["false_reject_rate_min"], 100 * r["false_reject_rate_max"],
            r["ratio_to_nominal"], r["false_rejects"], r["good_scored"], 100 * r["escape_rate_mean"],
            100 * r["mask_false_reject_rate_mean"]))
    if rows:
        print("\n%d splits per category, coreset %g, quantile %g; each split trains on the images not held out."
              % (rows[0]["splits"], rows[0]["coreset"], rows[0]["quantile"]))


if __name__ == "__main__":
    main(sys.argv[1])
