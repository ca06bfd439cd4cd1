#!/usr/bin/python3
"""Generate the committed test data of the heat-map overlay (tests/data/overlay/).

Run with Debian's interpreter (it has matplotlib, PIL and numpy):

    /usr/bin/python3 tools/gen_overlay_goldens.py

For each case it writes CASE_image.png (the input image, written by PIL), CASE_map.f32 (the
anomaly map, float32 little-endian, width x height row-major) and CASE_expected.png (the RGB
overlay), and lists the cases in manifest.txt: name, lo, hi, alpha.

The expected overlay comes from matplotlib's own "jet" colour map (its 256-entry lookup table
and its rule for picking an entry), not from the library's formula:
    t = clip((map - lo) / (hi - lo), 0, 1)
    out = floor((1 - alpha) * pixel + alpha * 255 * jet(t)[:3] + 0.5)
with gray images shown as gray RGB. lo, hi and alpha are exact binary fractions so float32 and
float64 agree.
"""
import os

import matplotlib
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "overlay")

rng = np.random.default_rng(20240711)


def overlay(pixels, amap, lo, hi, alpha):
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    t = np.clip((amap.astype(np.float64) - lo) / (hi - lo), 0.0, 1.0)
    jet = matplotlib.colormaps["jet"](t)[..., :3]  # floats in [0, 1], shape h x w x 3
    out = (1.0 - alpha) * pixels.astype(np.float64) + alpha * 255.0 * jet
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def make_case(name, pixels, amap, lo, hi, alpha, manifest):
    Image.fromarray(pixels).save(os.path.join(OUT, name + "_image.png"))
    amap.astype("<f4").tofile(os.path.join(OUT, name + "_map.f32"))
    Image.fromarray(overlay(pixels, amap, lo, hi, alpha), "RGB").save(os.path.join(OUT, name + "_expected.png"))
    manifest.append(f"{name} {lo!r} {hi!r} {alpha!r}")


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = []
    # RGB photo-like pixels, a map spanning below lo to above hi (both ends clamp), plus the
    # exact ends and infinities.
    h, w = 16, 24
    rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    amap = rng.uniform(-0.5, 2.5, size=(h, w)).astype(np.float32)
    amap[0, 0], amap[0, 1], amap[0, 2], amap[0, 3] = 0.25, 1.75, np.inf, -np.inf
    make_case("rgb", rgb, amap, 0.25, 1.75, 0.375, manifest)
    # Gray image with alpha 1: the pure colour map, every one of the 256 table entries hit by a
    # ramp over exactly [lo, hi].
    h, w = 16, 17
    gray = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
    ramp = np.linspace(-1.0, 3.0, h * w, dtype=np.float64).astype(np.float32).reshape(h, w)
    make_case("gray_pure_jet", gray, ramp, -1.0, 3.0, 1.0, manifest)
    # alpha 0: the image itself.
    make_case("rgb_alpha0", rgb[:5, :7].copy(), amap[:5, :7].copy(), 0.0, 1.0, 0.0, manifest)
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    print(f"wrote {len(manifest)} cases to {OUT}")


if __name__ == "__main__":
    main()
