"""Evaluation metrics of the MVTec AD protocol: image AUROC, pixel AUROC, AUPRO."""
import ctypes

import numpy as np

from . import _lib
from .errors import check

DEFAULT_FPR_LIMIT = 0.3


def auroc(scores, labels):
    """ROC AUC of scores against 0/1 labels, as sklearn.metrics.roc_auc_score."""
    s = np.ascontiguousarray(scores, dtype=np.float32).ravel()
    lab = np.ascontiguousarray(labels).ravel()
    if s.shape != lab.shape:
        raise ValueError("auroc: %d scores but %d labels" % (s.size, lab.size))
    lab = _labels(lab)
    out = ctypes.c_double()
    check(_lib.lib.rp_metric_auroc(s.ctypes.data_as(_lib.c_float_p), lab.ctypes.data_as(_lib.c_uint8_p),
                                   s.size, ctypes.byref(out)))
    return out.value


def _labels(lab):
    """Labels as uint8. Values uint8 cannot hold exactly are refused here (256 must not wrap to 0);
    the library checks the rest (only 0 and 1 are labels)."""
    if lab.dtype == np.bool_:
        return lab.astype(np.uint8)
    if lab.size and not np.all((lab >= 0) & (lab <= 255) & (lab == np.round(lab))):
        raise ValueError("auroc: labels must be 0 or 1, got values such as %r"
                         % (lab[~((lab >= 0) & (lab <= 255) & (lab == np.round(lab)))][0],))
    return np.ascontiguousarray(lab, dtype=np.uint8)


def _maps_and_masks(maps, masks, fn):
    """Float32 maps and uint8 masks (None = no defect) of one common shape, and C pointer arrays."""
    maps = [np.ascontiguousarray(m, dtype=np.float32) for m in maps]
    if not maps:
        raise ValueError("%s: no maps" % fn)
    shape = maps[0].shape
    if len(shape) != 2 or any(m.shape != shape for m in maps):
        raise ValueError("%s: maps must all be 2-D of one shape, got %s" % (fn, [m.shape for m in maps]))
    masks = list(masks) if masks is not None else [None] * len(maps)
    if len(masks) != len(maps):
        raise ValueError("%s: %d maps but %d masks" % (fn, len(maps), len(masks)))
    conv = []
    for m in masks:
        if m is None:
            conv.append(None)
            continue
        m = np.asarray(m)
        if m.shape != shape:
            raise ValueError("%s: mask shape %s != map shape %s" % (fn, m.shape, shape))
        conv.append(np.ascontiguousarray(m != 0, dtype=np.uint8))
    map_ptrs = (_lib.c_float_p * len(maps))(*[m.ctypes.data_as(_lib.c_float_p) for m in maps])
    mask_ptrs = (_lib.c_uint8_p * len(maps))(*[None if m is None else m.ctypes.data_as(_lib.c_uint8_p)
                                               for m in conv])
    # The arrays are returned with the pointers so they stay alive for the call.
    return maps, conv, map_ptrs, mask_ptrs, shape


def pixel_auroc(maps, masks):
    """ROC AUC over every pixel of anomaly maps (H x W each) and their masks (non-zero = defect,
    None = a defect-free image)."""
    maps, conv, mp, kp, (h, w) = _maps_and_masks(maps, masks, "pixel_auroc")
    out = ctypes.c_double()
    check(_lib.lib.rp_metric_pixel_auroc(mp, kp, len(maps), w, h, ctypes.byref(out)))
    return out.value


def aupro(maps, masks, fpr_limit=DEFAULT_FPR_LIMIT):
    """Normalised area under the per-region-overlap curve up to fpr_limit (the MVTec AD evaluation)."""
    maps, conv, mp, kp, (h, w) = _maps_and_masks(maps, masks, "aupro")
    out = ctypes.c_double()
    check(_lib.lib.rp_metric_aupro(mp, kp, len(maps), w, h, float(fpr_limit), ctypes.byref(out)))
    return out.value
