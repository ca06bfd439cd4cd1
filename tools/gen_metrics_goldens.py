#!/usr/bin/python3
"""Golden data for tests/unit/metrics: AUROC by sklearn, AUPRO by the official MVTec AD procedure.

Run with Debian's Python (numpy, scipy, sklearn):  /usr/bin/python3 tools/gen_metrics_goldens.py
Writes tests/data/metrics/metrics_golden.bin (deterministic: fixed seeds).

The AUPRO reference below follows the official MVTec AD evaluation code (mvtec_ad_evaluation:
generic_util.trapezoid and pro_curve_util.compute_pro) step by step, including its float32 FPR
array, so the C implementation is compared with the procedure that published numbers use.

write_golden() defines the small binary format read by tests/unit/metrics/rp_golden.h:
little-endian b"RPGOLDEN", uint32 array count, then per array: uint32 name length, the ASCII name,
uint32 dtype code ('f' float32, 'd' float64, 'B' uint8, 'i' int32, 'Q' uint64), uint32 ndim,
ndim x uint32 dims, then the C-order data.
"""
import os
import struct
from bisect import bisect

import numpy as np
from scipy.ndimage import gaussian_filter, label
from sklearn.metrics import roc_auc_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CODES = {'float32': 'f', 'float64': 'd', 'uint8': 'B', 'int32': 'i', 'uint64': 'Q'}


def write_golden(path, arrays):
    """arrays: dict name -> numpy array or Python float (stored as one float64)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(b'RPGOLDEN')
        f.write(struct.pack('<I', len(arrays)))
        for name, value in arrays.items():
            a = np.asarray(value)
            if a.dtype == np.bool_:
                a = a.astype(np.uint8)
            code = _CODES[a.dtype.name]
            a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder('<'))
            nb = name.encode('ascii')
            f.write(struct.pack('<I', len(nb)) + nb)
            f.write(struct.pack('<II', ord(code), a.ndim))
            f.write(struct.pack('<%dI' % a.ndim, *a.shape))
            f.write(a.tobytes())


# ---- the official MVTec AD procedure ---------------------------------------------------------

def trapezoid(x, y, x_max=None):
    """generic_util.trapezoid of the MVTec AD evaluation."""
    x = np.array(x)
    y = np.array(y)
    finite_mask = np.logical_and(np.isfinite(x), np.isfinite(y))
    x = x[finite_mask]
    y = y[finite_mask]
    correction = 0.
    if x_max is not None:
        if x_max not in x:
            ins = bisect(x, x_max)
            assert 0 < ins < len(x)
            y_interp = y[ins - 1] + ((y[ins] - y[ins - 1]) * (x_max - x[ins - 1]) / (x[ins] - x[ins - 1]))
            correction = 0.5 * (y_interp + y[ins - 1]) * (x_max - x[ins - 1])
        mask = x <= x_max
        x = x[mask]
        y = y[mask]
    return np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + correction


def compute_pro(anomaly_maps, ground_truth_maps):
    """pro_curve_util.compute_pro of the MVTec AD evaluation."""
    structure = np.ones((3, 3), dtype=int)
    num_ok_pixels = 0
    num_gt_regions = 0
    shape = (len(anomaly_maps), anomaly_maps[0].shape[0], anomaly_maps[0].shape[1])
    fp_changes = np.zeros(shape, dtype=np.uint32)
    pro_changes = np.zeros(shape, dtype=np.float64)
    for gt_ind, gt_map in enumerate(ground_truth_maps):
        labeled, n_components = label(gt_map, structure)
        num_gt_regions += n_components
        ok_mask = labeled == 0
        num_ok_pixels += np.sum(ok_mask)
        fp_change = np.zeros_like(gt_map, dtype=fp_changes.dtype)
        fp_change[ok_mask] = 1
        pro_change = np.zeros_like(gt_map, dtype=np.float64)
        for k in range(n_components):
            region_mask = labeled == (k + 1)
            pro_change[region_mask] = 1. / np.sum(region_mask)
        fp_changes[gt_ind, :, :] = fp_change
        pro_changes[gt_ind, :, :] = pro_change
    anomaly_scores_flat = np.array(anomaly_maps).ravel()
    fp_changes_flat = fp_changes.ravel()
    pro_changes_flat = pro_changes.ravel()
    sort_idxs = np.argsort(anomaly_scores_flat).astype(np.uint32)[::-1]
    anomaly_scores_sorted = anomaly_scores_flat[sort_idxs]
    fp_changes_sorted = np.cumsum(fp_changes_flat[sort_idxs]).astype(np.float32)
    fprs = fp_changes_sorted / np.float32(num_ok_pixels)
    pros = np.cumsum(pro_changes_flat[sort_idxs]) / num_gt_regions
    keep_mask = np.append(np.diff(anomaly_scores_sorted) != 0, np.True_)
    fprs = np.clip(fprs[keep_mask], a_min=None, a_max=1.)
    pros = np.clip(pros[keep_mask], a_min=None, a_max=1.)
    return np.concatenate(([0.], fprs, [1.])), np.concatenate(([0.], pros, [1.]))


def aupro(maps, masks, limit):
    fprs, pros = compute_pro(maps, masks)
    return float(trapezoid(fprs, pros, x_max=limit) / limit)


# ---- cases -------------------------------------------------------------------------------------

def image_cases(rng, out):
    # continuous scores, no ties
    s = rng.normal(size=60).astype(np.float32)
    y = (rng.random(60) < 0.4).astype(np.uint8)
    s[y == 1] += 0.8
    out['auroc_cont_scores'], out['auroc_cont_labels'] = s, y
    out['auroc_cont'] = float(roc_auc_score(y, s))
    # heavy ties: scores on 7 levels, also across classes
    s = rng.integers(0, 7, size=300).astype(np.float32) * np.float32(0.25) - np.float32(0.5)
    y = (rng.random(300) < 0.3).astype(np.uint8)
    s[y == 1] += np.float32(0.25) * rng.integers(0, 3, size=int(y.sum())).astype(np.float32)
    out['auroc_ties_scores'], out['auroc_ties_labels'] = s, y
    out['auroc_ties'] = float(roc_auc_score(y, s))


def blob_masks(rng, count, h, w):
    masks = np.zeros((count, h, w), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(count):
        if i == 1:
            continue  # a defect-free image
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.integers(0, h), rng.integers(0, w)
            ry, rx = rng.integers(2, 8), rng.integers(2, 10)
            masks[i][((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = 255
    # pixels touching only diagonally: one region under 8-connectivity, two under 4
    masks[0, 3, 3] = masks[0, 4, 4] = masks[0, 5, 5] = 255
    masks[0, 3, 5] = 255
    # a single-pixel region on the border
    masks[2, h - 1, 0] = 255
    return masks


def pixel_cases(rng, out):
    count, h, w = 5, 40, 48  # non-square, to catch swapped axes
    masks = blob_masks(rng, count, h, w)
    maps = np.stack([gaussian_filter(rng.normal(size=(h, w)), 2) for _ in range(count)])
    maps = (maps + 0.6 * gaussian_filter((masks > 0).astype(np.float64), 1.5)).astype(np.float32)
    quant = (np.round(maps * 8) / 8).astype(np.float32)  # many ties
    out['pix_shape'] = np.array([count, h, w], dtype=np.int32)
    out['pix_masks'] = masks
    out['pix_maps'] = maps
    out['pix_maps_quant'] = quant
    labels = (masks > 0).ravel()
    out['pix_auroc'] = float(roc_auc_score(labels, maps.ravel()))
    out['pix_auroc_quant'] = float(roc_auc_score(labels, quant.ravel()))
    for name, m in (('pix', maps), ('pix_quant', quant)):
        for lim, tag in ((0.3, '30'), (0.05, '05'), (1.0, '100')):
            out['%s_aupro_%s' % (name, tag)] = aupro(list(m), list(masks), lim)
    _, n = label(masks[0], np.ones((3, 3), dtype=int))
    out['pix_regions_image0'] = np.array([n], dtype=np.int32)


def main():
    rng = np.random.default_rng(20240607)
    out = {}
    image_cases(rng, out)
    pixel_cases(rng, out)
    path = os.path.join(ROOT, 'tests', 'data', 'metrics', 'metrics_golden.bin')
    write_golden(path, out)
    print('wrote %s (%d bytes)' % (path, os.path.getsize(path)))
    for k, v in out.items():
        if isinstance(v, float):
            print('  %-22s %.12f' % (k, v))


if __name__ == '__main__':
    main()
