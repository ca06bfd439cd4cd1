"""The metric functions against sklearn (when installed), hand-worked cases, and an independent
NumPy/SciPy AUPRO written from the definition in metrics.h."""
import numpy as np
import pytest

import reconpatch as rp
from reconpatch import errors

RNG = np.random.default_rng(7)


def test_metrics__auroc_hand_cases():
    assert rp.auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert rp.auroc([0.5, 0.5], [0, 1]) == pytest.approx(0.5)  # a tie counts one half
    assert rp.auroc([3, 2, 1], [1, 0, 0]) == 1.0
    assert rp.auroc(np.array([1, 2, 3]), np.array([True, False, False])) == 0.0


def test_metrics__auroc_matches_sklearn_with_ties():
    sk = pytest.importorskip("sklearn.metrics")
    scores = RNG.integers(0, 20, 500).astype(np.float32)  # many ties
    labels = RNG.integers(0, 2, 500)
    assert rp.auroc(scores, labels) == pytest.approx(sk.roc_auc_score(labels, scores), abs=1e-12)


def test_metrics__pixel_auroc_matches_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    maps = [RNG.random((12, 9)).astype(np.float32) for _ in range(3)]
    masks = [None, RNG.random((12, 9)) > 0.7, np.zeros((12, 9), np.uint8)]
    masks[1] = masks[1].astype(np.uint8) * 255
    maps[1] += masks[1] / 255.0 * 0.3  # defects score somewhat higher
    y = np.concatenate([np.zeros(108), (masks[1] > 0).ravel(), np.zeros(108)])
    s = np.concatenate([m.ravel() for m in maps])
    assert rp.pixel_auroc(maps, masks) == pytest.approx(sk.roc_auc_score(y, s), abs=1e-9)


def aupro_reference(maps, masks, fpr_limit):
    """PRO curve from the definition: regions = 8-connected components; at each distinct score
    (descending) PRO = mean over regions of the share of its pixels >= t, FPR = share of normal
    pixels >= t; curve (0,0) ... (1,1), trapezoid up to fpr_limit (interpolated), / fpr_limit."""
    ndimage = pytest.importorskip("scipy.ndimage")
    regions, normal = [], []
    for m, k in zip(maps, masks):
        k = np.zeros(m.shape, bool) if k is None else np.asarray(k) != 0
        labels, n = ndimage.label(k, structure=np.ones((3, 3)))
        regions += [np.sort(m[labels == i]) for i in range(1, n + 1)]
        normal.append(m[~k])
    normal = np.sort(np.concatenate(normal))
    thresholds = np.unique(np.concatenate([m.ravel() for m in maps]))[::-1]

    def share_at_or_above(sorted_values, t):
        return (sorted_values.size - np.searchsorted(sorted_values, t, side="left")) / sorted_values.size

    fpr = np.array([0.0] + [share_at_or_above(normal, t) for t in thresholds] + [1.0])
    pro = np.array([0.0] + [np.mean([share_at_or_above(r, t) for r in regions]) for t in thresholds] + [1.0])
    i = np.searchsorted(fpr, fpr_limit, side="right")  # points [0, i) are within the limit
    xs, ys = fpr[:i], pro[:i]
    if xs[-1] < fpr_limit:  # close the area at the limit, y interpolated on the next segment
        y_at = pro[i - 1] + (pro[i] - pro[i - 1]) * (fpr_limit - fpr[i - 1]) / (fpr[i] - fpr[i - 1])
        xs, ys = np.append(xs, fpr_limit), np.append(ys, y_at)
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2) / fpr_limit)


def test_metrics__aupro_matches_a_reference_from_the_definition():
    h, w = 16, 15
    masks = []
    for _ in range(3):
        k = np.zeros((h, w), np.uint8)
        y, x = RNG.integers(0, h - 4), RNG.integers(0, w - 4)
        k[y:y + 4, x:x + 3] = 255
        k[RNG.integers(0, h), RNG.integers(0, w)] = 255  # a one-pixel region (or a touching one)
        masks.append(k)
    masks.append(None)
    maps = [(RNG.random((h, w)) + (0.6 * (k > 0) if k is not None else 0)).astype(np.float32) for k in masks]
    normal_pixels = sum(int(np.sum(k == 0)) if k is not None else h * w for k in masks)
    for limit in (0.3, 0.05, 1.0):
        # No FPR step lands exactly on the limit (there the interpolation would be ambiguous).
        assert limit == 1.0 or (limit * normal_pixels) % 1 != 0
        assert rp.aupro(maps, masks, fpr_limit=limit) == pytest.approx(
            aupro_reference(maps, masks, limit), abs=1e-6), limit


def test_metrics__aupro_perfect_separation_is_one():
    k = np.zeros((8, 8), np.uint8)
    k[2:5, 3:6] = 1
    m = (k * 2.0 + 0.01 * RNG.random((8, 8))).astype(np.float32)
    assert rp.aupro([m], [k]) == pytest.approx(1.0)


def test_metrics__one_class_labels_fail_with_invalid_arg():
    with pytest.raises(rp.ReconpatchError) as info:
        rp.auroc([0.1, 0.2], [1, 1])
    assert info.value.code == errors.E_INVALID_ARG and "rp_metric_auroc" in info.value.message


def test_metrics__bad_inputs_are_refused():
    with pytest.raises(rp.ReconpatchError) as info:
        rp.auroc([0.1, 0.2, 0.3], [0, 1, 2])  # the library names the bad label
    assert info.value.code == errors.E_INVALID_ARG
    with pytest.raises(ValueError):
        rp.auroc([0.1, 0.2], [0, 257])  # would wrap to 1 in uint8
    with pytest.raises(ValueError):
        rp.auroc([0.1, 0.2], [0, 1, 1])
    with pytest.raises(ValueError):
        rp.pixel_auroc([np.zeros((4, 4)), np.zeros((4, 5))], None)
    with pytest.raises(rp.ReconpatchError):
        rp.aupro([np.zeros((4, 4))], [None])  # no defect pixel at all
