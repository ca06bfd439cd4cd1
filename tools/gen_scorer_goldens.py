#!/usr/bin/python3
"""Golden data for tests/unit/scorer: patch scores, image scores and anomaly maps by PyTorch + scipy.

Run with Debian's Python (torch, numpy, scipy, torchvision):
    /usr/bin/python3 tools/gen_scorer_goldens.py [--only keep_aspect]
Writes tests/data/scorer/scorer_golden.bin and scorer_keep_aspect.bin (format: write_golden in
tools/gen_metrics_goldens.py); --only keep_aspect writes just the second.

References, step by step (docs/scoring.md describes the same steps):
  patch score   min over the bank of the Euclidean distance, in float64 (torch.cdist without the
                matrix-product shortcut), after the embedding x @ W.T + b when there is one;
  score_max     the maximum patch score (first index on ties, torch.argmax);
  score         anomalib's PatchCore reweighting: support = the b nearest bank entries of m*
                (the bank entry nearest to the max patch, m* itself first), weight =
                1 - softmax(|m_test - support|)[0], score = weight * score_max;
  map_input     F.interpolate(patch scores, size=input, mode="bilinear", align_corners=False),
                then scipy.ndimage.gaussian_filter(sigma) on the float32 map (PatchCore's
                RescaleSegmentor);
  map_image     the map put back in the resize x resize frame at the crop offset, the rest of the
                frame filled with the nearest map border value (np.pad mode="edge"), then
                F.interpolate(size=(H, W), mode="bilinear", align_corners=False).
  keep_aspect   the same with the image's own frame: torchvision's Resize(resize) (an int: the
                shorter side) frame size, CenterCrop's offsets per axis; masks through
                torchvision Resize + CenterCrop on a float PIL image, then > 127.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_metrics_goldens import write_golden  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def crop_offset(resize, crop):
    return int(round((resize - crop) / 2.0))  # torchvision CenterCrop (round half to even)


def cdist64(a, b):
    return torch.cdist(torch.from_numpy(a).double(), torch.from_numpy(b).double(),
                       compute_mode='donot_use_mm_for_euclid_dist')


def scores(features, bank, b, weight=None, bias=None):
    x = features.astype(np.float64)
    if weight is not None:
        x = x @ weight.astype(np.float64).T + bias.astype(np.float64)
    d = cdist64(x, bank)
    patch, nearest = d.min(dim=1)
    best = int(torch.argmax(patch))
    m_star = int(nearest[best])
    support = torch.argsort(cdist64(bank[m_star:m_star + 1].astype(np.float64), bank)[0])[:min(b, len(bank))]
    assert int(support[0]) == m_star
    dist = cdist64(x[best:best + 1], bank[support.numpy()])[0]
    weight_factor = 1.0 - float(torch.softmax(dist, dim=0)[0])
    return patch.numpy().astype(np.float32), best, m_star, float(patch[best]), weight_factor


def input_map(patch_scores, grid, size, sigma):
    t = torch.from_numpy(patch_scores.reshape(1, 1, grid, grid))
    up = F.interpolate(t, size=(size, size), mode='bilinear', align_corners=False)[0, 0].numpy()
    return gaussian_filter(up, sigma=sigma).astype(np.float32)


def image_map(map_input, resize, no_crop, width, height):
    size = map_input.shape[0]
    if no_crop:
        frame = map_input
    else:
        off = crop_offset(resize, size)
        frame = np.pad(map_input, ((off, resize - size - off), (off, resize - size - off)), mode='edge')
    t = torch.from_numpy(np.ascontiguousarray(frame, dtype=np.float32)[None, None])
    return F.interpolate(t, size=(height, width), mode='bilinear', align_corners=False)[0, 0].numpy()


def case_patchcore(rng, out):
    """The real geometry: 28 x 28 patches, 224 input, resize 256; no embedding; b = 9, sigma 4."""
    grid, size, resize, dim, nbank = 28, 224, 256, 16, 400
    bank = rng.normal(size=(nbank, dim)).astype(np.float32)
    feats = (rng.normal(size=(grid * grid, dim)) * 0.9).astype(np.float32)
    feats[grid * 17 + 5] += 3.0  # one clearly anomalous patch: a unique maximum
    feats[grid * 3 + 20] += 1.5
    patch, best, m_star, smax, w = scores(feats, bank, 9)
    out['a_bank'], out['a_features'] = bank, feats
    out['a_patch_scores'] = patch
    out['a_best'] = np.array([best], dtype=np.int32)
    out['a_neighbor'] = np.array([m_star], dtype=np.int32)
    out['a_score_max'], out['a_reweight'], out['a_score'] = smax, w, w * smax
    m = input_map(patch, grid, size, 4.0)
    out['a_map_input'] = m
    out['a_map_image'] = image_map(m, resize, False, 180, 120)  # W 180, H 120


def case_embedding(rng, out):
    """An embedding 24 -> 12, b = 5, sigma 2.5, input 80, resize 92 (offset 6), and no_crop."""
    grid, size, resize, din, dout, nbank = 10, 80, 92, 24, 12, 150
    weight = (rng.normal(size=(dout, din)) / np.sqrt(din)).astype(np.float32)
    bias = (rng.normal(size=dout) * 0.1).astype(np.float32)
    bank = rng.normal(size=(nbank, dout)).astype(np.float32)
    feats = rng.normal(size=(grid * grid, din)).astype(np.float32)
    feats[grid * 2 + 7] += 2.5
    patch, best, m_star, smax, w = scores(feats, bank, 5, weight, bias)
    out['b_weight'], out['b_bias'], out['b_bank'], out['b_features'] = weight, bias, bank, feats
    out['b_patch_scores'] = patch
    out['b_best'] = np.array([best], dtype=np.int32)
    out['b_neighbor'] = np.array([m_star], dtype=np.int32)
    out['b_score_max'], out['b_reweight'], out['b_score'] = smax, w, w * smax
    m = input_map(patch, grid, size, 2.5)
    out['b_map_input'] = m
    out['b_map_image_crop'] = image_map(m, resize, False, 70, 50)
    out['b_map_image_nocrop'] = image_map(m, size, True, 70, 50)


def case_map_steps(rng, out):
    """The two map steps alone, on shapes that stress them: a non-square upsampling, and a
    smoothing whose kernel (radius 16) is longer than the map (reflect repeats)."""
    src = rng.normal(size=(3, 5)).astype(np.float32)  # H 3, W 5
    out['c_resize_src'] = src
    out['c_resize_dst'] = F.interpolate(torch.from_numpy(src)[None, None], size=(8, 13), mode='bilinear',
                                        align_corners=False)[0, 0].numpy()
    small = rng.normal(size=(7, 12)).astype(np.float32)  # H 7, W 12
    out['c_smooth_src'] = small
    out['c_smooth_dst'] = gaussian_filter(small, sigma=4.0)


def keep_aspect_frame(width, height, resize, crop):
    """torchvision's own Resize(resize) frame (an int: the shorter side, aspect kept) for an image
    of width x height, and CenterCrop's offsets in it (int(round(...)), half to even)."""
    from PIL import Image
    from torchvision import transforms as T
    fw, fh = T.Resize(resize)(Image.new('L', (width, height))).size
    return fw, fh, crop_offset(fw, crop), crop_offset(fh, crop)


def image_map_keep_aspect(map_input, resize, width, height):
    """The map put in the image's own keep_aspect frame (fh x fw) at the crop offsets, the rest
    filled with the nearest map border value, then F.interpolate to height x width."""
    size = map_input.shape[0]
    fw, fh, ox, oy = keep_aspect_frame(width, height, resize, size)
    frame = np.pad(map_input, ((oy, fh - size - oy), (ox, fw - size - ox)), mode='edge')
    t = torch.from_numpy(np.ascontiguousarray(frame, dtype=np.float32)[None, None])
    return F.interpolate(t, size=(height, width), mode='bilinear', align_corners=False)[0, 0].numpy()


def mask_to_input_keep_aspect(mask, resize, crop, threshold):
    """torchvision Resize(resize) + CenterCrop(crop) of the mask as a float ('F') PIL image (PIL's
    BILINEAR in float, no 8-bit rounding: the library's resampling), then value > threshold."""
    from PIL import Image
    from torchvision import transforms as T
    im = Image.fromarray(mask.astype(np.float32), 'F')
    v = np.asarray(T.CenterCrop(crop)(T.Resize(resize, interpolation=T.InterpolationMode.BILINEAR)(im)))
    margin = np.abs(v - threshold).min()
    assert margin > 1e-2, 'a resampled mask value lies within %g of the threshold' % margin
    return (v > threshold).astype(np.uint8)


def case_keep_aspect(out):
    """keep_aspect: input 80 (grid 10), resize 92 (the shorter side), sigma 2.5; a landscape
    76 x 50 image (frame 139 x 92, offsets (30, 6): round(29.5) = 30) and a portrait 45 x 77 one
    (frame 92 x 157, offsets (6, 38): round(38.5) = 38, half to even), their maps and masks."""
    rng = np.random.default_rng(11)  # its own stream: scorer_golden.bin does not move
    grid, size, resize = 10, 80, 92
    patch = rng.gamma(2.0, 1.0, size=grid * grid).astype(np.float32)
    m = input_map(patch, grid, size, 2.5)
    out['k_map_input'] = m
    for name, (w, h) in (('wide', (76, 50)), ('tall', (45, 77))):
        fw, fh, ox, oy = keep_aspect_frame(w, h, resize, size)
        out['k_%s_frame' % name] = np.array([w, h, fw, fh, ox, oy], dtype=np.int32)
        out['k_%s_map_image' % name] = image_map_keep_aspect(m, resize, w, h)
        # a 0/255 mask: an ellipse and a bar, both touching the part the crop cuts away
        y, x = np.mgrid[0:h, 0:w]
        mask = ((((x - 0.3 * w) / (0.22 * w)) ** 2 + ((y - 0.55 * h) / (0.3 * h)) ** 2 < 1) |
                ((x > 0.7 * w) & (y > 0.1 * h) & (y < 0.25 * h)) | (x < 0.04 * w) | (y > 0.95 * h))
        mask = mask.astype(np.uint8) * 255
        out['k_%s_mask' % name] = mask
        out['k_%s_mask_input' % name] = mask_to_input_keep_aspect(mask, resize, size, 127.0)
        print('  keep_aspect %s %dx%d: frame %dx%d, offsets (%d, %d), %d mask pixels in the crop' %
              (name, w, h, fw, fh, ox, oy, int(out['k_%s_mask_input' % name].sum())))


def main():
    if '--only' in sys.argv[1:]:
        if sys.argv[1:] != ['--only', 'keep_aspect']:
            sys.exit('usage: gen_scorer_goldens.py [--only keep_aspect]')
    else:
        write_main()
    out = {}
    case_keep_aspect(out)
    path = os.path.join(ROOT, 'tests', 'data', 'scorer', 'scorer_keep_aspect.bin')
    write_golden(path, out)
    print('wrote %s (%d bytes)' % (path, os.path.getsize(path)))


def write_main():
    rng = np.random.default_rng(7)
    out = {}
    case_patchcore(rng, out)
    case_embedding(rng, out)
    case_map_steps(rng, out)
    path = os.path.join(ROOT, 'tests', 'data', 'scorer', 'scorer_golden.bin')
    write_golden(path, out)
    print('wrote %s (%d bytes)' % (path, os.path.getsize(path)))
    for k in ('a_best', 'a_neighbor', 'a_score_max', 'a_reweight', 'a_score', 'b_best', 'b_neighbor',
              'b_score_max', 'b_reweight', 'b_score'):
        print('  %-12s %s' % (k, out[k]))


if __name__ == '__main__':
    main()
