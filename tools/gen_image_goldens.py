#!/usr/bin/python3
"""Generate the committed test data of the image module (tests/data/images/).

Run with Debian's interpreter (it has PIL and numpy):

    /usr/bin/python3 tools/gen_image_goldens.py [--data-dir ../shared/data]

What it writes, and where the expected values come from:

* decode/*.png, decode/*.jpg and decode/*.raw, listed in decode/manifest.txt
  (name, file, width, height, channels): small images in every PNG colour type / bit depth
  (plus palette, tRNS and Adam7 interlacing) and JPEG gray / colour / progressive / CMYK.
  PNG files are written by the small encoder below (PIL cannot write 16-bit colour, low bit
  depths or interlaced files); the expected 8-bit pixels are computed with numpy from the very
  samples that were encoded, using the rules of docs/images.md, and are cross-checked against
  PIL's own decode wherever PIL applies the same rule. JPEG expectations are PIL's decode (PIL
  uses the same system libjpeg-turbo, so the match is exact).
* decode/bad_*.{png,jpg}: headers claiming zero or huge sizes (valid CRCs), for the error tests.
* preprocess/*: source images (PNG), and what torchvision's transforms do to them on PIL images,
  Resize((R, R)) (PIL BILINEAR) + CenterCrop(C) + ToTensor + Normalize (torchvision mean/std), and
  the Keras "caffe" variant (BGR, minus mean), as float32 CHW .f32 files; listed in
  preprocess/manifest.txt (case, source, resize, crop, no_crop).
* keep_aspect/: the aspect-keeping resize, from torchvision 0.14 itself (Debian's
  python3-torchvision): transforms.Resize(R) with an int (shorter side to R, the longer one
  int(R * long / short)) + CenterCrop(C), then ToTensor + Normalize, and the caffe variant; listed
  in keep_aspect/manifest.txt with the frame and offsets. Two real magnetic tile images (from
  ../shared/data) at Resize(256) + CenterCrop(224) are stored as PNGs of PIL's 8-bit result.
  `--only keep_aspect` regenerates just this folder.
* fullres/: from ../shared/data (if present): CRC-32 of PIL's decode of the full-resolution bottle
  images, the natural photos and a sample of the magnetic tile images, and PIL's resize 256 + centre crop 224 of the bottle as a PNG (lossless), so the C tests
  can compare without Python.
"""
import argparse
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "images")

TV_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
TV_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)

rng = np.random.default_rng(20240601)


# ---------------------------------------------------------------------------------------------
# A minimal PNG encoder: any colour type, bit depth, palette, tRNS, Adam7, all five row filters.

GRAY, RGB, PALETTE, GRAY_ALPHA, RGBA = 0, 2, 3, 4, 6
CHANNELS = {GRAY: 1, RGB: 3, PALETTE: 1, GRAY_ALPHA: 2, RGBA: 4}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(samples, bit_depth):
    """samples: 1-D array of channel samples of one row -> bytes (MSB first, big-endian 16-bit)."""
    if bit_depth == 16:
        return samples.astype(">u2").tobytes()
    if bit_depth == 8:
        return samples.astype(np.uint8).tobytes()
    per_byte = 8 // bit_depth
    out = bytearray((len(samples) + per_byte - 1) // per_byte)
    for i, v in enumerate(samples):
        out[i // per_byte] |= int(v) << (8 - bit_depth * (i % per_byte + 1))
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(kind, row, prev, bpp):
    out = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
        out[i] = (x - pred) & 0xFF
    return bytes([kind]) + bytes(out)


def encode_rows(img, bit_depth, bpp):
    """img: H x W x C samples -> filtered scanlines, the filter cycling 0..4 row by row."""
    data = b""
    prev = None
    for y in range(img.shape[0]):
        row = pack_row(img[y].reshape(-1), bit_depth)
        if prev is None:
            prev = bytes(len(row))
        data += filter_row(y % 5, row, prev, bpp)
        prev = row
    return data


def write_png(path, samples, bit_depth, color_type, palette=None, trns=None, interlace=False):
    h, w = samples.shape[:2]
    img = samples.reshape(h, w, -1)
    bpp = max(1, CHANNELS[color_type] * bit_depth // 8)
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = img[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += encode_rows(sub, bit_depth, bpp)
    else:
        raw = encode_rows(img, bit_depth, bpp)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0,
                                                             1 if interlace else 0))
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", trns)
    out += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


# ---------------------------------------------------------------------------------------------
# Expected 8-bit pixels under the library's rules (docs/images.md).

def to8(samples, bit_depth):
    s = samples.astype(np.int64)
    if bit_depth == 16:
        return ((s + 128) // 257).astype(np.uint8)  # round(v * 255 / 65535)
    return (s * 255 // ((1 << bit_depth) - 1)).astype(np.uint8)  # bit replication, exact


manifest = []


def add_decode_case(name, filename, expected):
    h, w = expected.shape[:2]
    c = 1 if expected.ndim == 2 else expected.shape[2]
    with open(os.path.join(OUT, "decode", name + ".raw"), "wb") as f:
        f.write(np.ascontiguousarray(expected, dtype=np.uint8).tobytes())
    manifest.append(f"{name} {filename} {w} {h} {c}")


def pil_as_rules(path):
    """PIL's decode, reduced to gray / RGB the way the library does (alpha dropped)."""
    im = Image.open(path)
    if im.mode in ("L", "RGB"):
        return np.asarray(im)
    if im.mode == "LA":
        return np.asarray(im)[..., 0]
    if im.mode == "RGBA":
        return np.asarray(im)[..., :3]
    if im.mode == "P":
        return np.asarray(im.convert("RGBA"))[..., :3]
    if im.mode == "1":
        return np.asarray(im.convert("L"))
    if im.mode == "CMYK":
        return np.asarray(im.convert("RGB"))
    return None  # I;16 and friends: PIL keeps 16 bits, no 8-bit rule to compare with


def png_case(name, samples, bit_depth, color_type, palette=None, trns=None, interlace=False, pil_check=True):
    filename = name + ".png"
    path = os.path.join(OUT, "decode", filename)
    write_png(path, samples, bit_depth, color_type, palette, trns, interlace)
    if color_type == PALETTE:
        expected = palette[samples].astype(np.uint8)
    else:
        img = samples if samples.ndim == 3 else samples[..., None]
        expected = to8(img, bit_depth)
        if color_type in (GRAY_ALPHA, RGBA):
            expected = expected[..., :-1]
        if expected.shape[2] == 1:
            expected = expected[..., 0]
    if pil_check:
        pil = pil_as_rules(path)
        if pil is not None and bit_depth != 16:
            assert np.array_equal(pil, expected), f"{name}: PIL decodes it differently"
        if bit_depth == 16:  # PIL keeps 16-bit gray, and reduces colour to the high byte
            im = Image.open(path)
            if im.mode.startswith("I"):
                assert np.array_equal(np.asarray(im), samples), f"{name}: 16-bit samples differ"
            else:
                high = (samples >> 8).astype(np.uint8)
                if high.shape[-1] == 2:  # PIL opens 16-bit gray+alpha as RGBA
                    high = high[..., [0, 0, 0, 1]]
                assert np.array_equal(np.asarray(im).reshape(high.shape), high), f"{name}: high bytes differ"
    add_decode_case(name, filename, expected)


def gen_png_cases():
    W, H = 13, 7
    for bd in (1, 2, 4, 8, 16):
        png_case(f"png_gray{bd}", rng.integers(0, 1 << bd, (H, W)), bd, GRAY)
    for bd in (8, 16):
        png_case(f"png_graya{bd}", rng.integers(0, 1 << bd, (H, W, 2)), bd, GRAY_ALPHA)
        png_case(f"png_rgb{bd}", rng.integers(0, 1 << bd, (H, W, 3)), bd, RGB)
        png_case(f"png_rgba{bd}", rng.integers(0, 1 << bd, (H, W, 4)), bd, RGBA)
    for bd in (1, 2, 4, 8):
        n = 1 << bd
        pal = rng.integers(0, 256, (n, 3))
        png_case(f"png_palette{bd}", rng.integers(0, n, (H, W)), bd, PALETTE, palette=pal)
    # palette with transparency: colours are kept, transparency ignored
    pal = rng.integers(0, 256, (16, 3))
    png_case("png_palette4_trns", rng.integers(0, 16, (H, W)), 4, PALETTE, palette=pal,
             trns=bytes(rng.integers(0, 256, 16).astype(np.uint8)))
    # gray / RGB with a tRNS colour key: ignored as well
    g = rng.integers(0, 256, (H, W))
    png_case("png_gray8_trns", g, 8, GRAY, trns=struct.pack(">H", int(g[0, 0])))
    c = rng.integers(0, 1 << 16, (H, W, 3))
    png_case("png_rgb16_trns", c, 16, RGB, trns=struct.pack(">HHH", *[int(v) for v in c[0, 0]]))
    # 16-bit edge values, so the scaling rule is pinned down where rounding matters
    edge = np.array([0, 1, 128, 129, 385, 386, 32767, 32768, 65407, 65408, 65534, 65535, 12345], dtype=np.int64)
    png_case("png_gray16_edges", np.tile(edge, (H, 1)), 16, GRAY)
    # Adam7 interlacing, including tiny images whose first passes are empty
    png_case("png_gray1_adam7", rng.integers(0, 2, (H, W)), 1, GRAY, interlace=True)
    png_case("png_palette4_adam7", rng.integers(0, 16, (H, W)), 4, PALETTE,
             palette=rng.integers(0, 256, (16, 3)), interlace=True)
    png_case("png_rgb8_adam7", rng.integers(0, 256, (H, W, 3)), 8, RGB, interlace=True)
    png_case("png_rgba16_adam7", rng.integers(0, 1 << 16, (H, W, 4)), 16, RGBA, interlace=True)
    png_case("png_gray8_adam7_3x2", rng.integers(0, 256, (2, 3)), 8, GRAY, interlace=True)
    # PIL's own encoder (adaptive filters, its zlib settings): what real tools write
    for mode, shape in (("L", (H, W)), ("RGB", (H, W, 3))):
        arr = rng.integers(0, 256, shape).astype(np.uint8)
        name = "png_pil_" + mode.lower()
        Image.fromarray(arr, mode).save(os.path.join(OUT, "decode", name + ".png"), optimize=True)
        add_decode_case(name, name + ".png", arr)


def smooth_rgb(h, w):
    """A photo-like image (JPEG of pure noise is unrepresentative): gradients plus mild noise."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1), (x + y) * 127 / max(w + h - 2, 1)], -1)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def strip_app14(data):
    """Remove the Adobe APP14 segment. The data stay inverted; PIL (and the library) still read them
    as Adobe-inverted CMYK, the common convention for CMYK JPEGs without the marker."""
    i = data.find(b"\xff\xee")
    assert i > 0
    n = struct.unpack(">H", data[i + 2:i + 4])[0]
    return data[:i] + data[i + 2 + n:]


def jpeg_case(name, im, **save):
    filename = name + ".jpg"
    path = os.path.join(OUT, "decode", filename)
    im.save(path, "JPEG", **save)
    add_decode_case(name, filename, pil_as_rules(path))
    return path


def gen_jpeg_cases():
    rgb = smooth_rgb(7, 13)
    jpeg_case("jpeg_gray", Image.fromarray(rgb[..., 0], "L"), quality=90)
    jpeg_case("jpeg_rgb420", Image.fromarray(rgb, "RGB"), quality=90)
    jpeg_case("jpeg_rgb444", Image.fromarray(rgb, "RGB"), quality=90, subsampling=0)
    big = smooth_rgb(29, 37)
    jpeg_case("jpeg_rgb_progressive", Image.fromarray(big, "RGB"), quality=85, progressive=True)
    cmyk = Image.fromarray(np.concatenate([rgb, rgb[..., :1] // 2], -1), "CMYK")
    path = jpeg_case("jpeg_cmyk_adobe", cmyk, quality=95)  # PIL writes Adobe APP14 + inverted values
    with open(path, "rb") as f:
        data = strip_app14(f.read())
    plain = os.path.join(OUT, "decode", "jpeg_cmyk_plain.jpg")
    with open(plain, "wb") as f:
        f.write(data)
    assert not Image.open(plain).info.get("adobe"), "APP14 still present"
    add_decode_case("jpeg_cmyk_plain", "jpeg_cmyk_plain.jpg", pil_as_rules(plain))


def gen_bad_headers():
    d = os.path.join(OUT, "decode")

    def ihdr_png(path, w, h):
        out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, RGB, 0, 0, 0))
        out += chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
        open(os.path.join(d, path), "wb").write(out)

    ihdr_png("bad_png_huge.png", 100000, 100000)  # 10^10 pixels: must fail before allocating
    ihdr_png("bad_png_zero_width.png", 0, 7)

    def patch_sof(path, w, h):
        data = bytearray(open(os.path.join(d, "jpeg_rgb420.jpg"), "rb").read())
        i = data.find(b"\xff\xc0")
        data[i + 5:i + 9] = struct.pack(">HH", h, w)
        open(os.path.join(d, path), "wb").write(bytes(data))

    patch_sof("bad_jpeg_huge.jpg", 60000, 60000)  # 3.6e9 pixels
    patch_sof("bad_jpeg_zero_height.jpg", 13, 0)


# ---------------------------------------------------------------------------------------------
# Preprocessing: torchvision's transforms on PIL images.

def crop_offset(resize, crop):
    return int(round((resize - crop) / 2.0))  # torchvision CenterCrop (Python round: half to even)


def pil_resize_crop(im, resize, crop, no_crop):
    if no_crop:
        return np.asarray(im.convert("RGB").resize((crop, crop), Image.BILINEAR))
    r = im.convert("RGB").resize((resize, resize), Image.BILINEAR)
    o = crop_offset(resize, crop)
    return np.asarray(r.crop((o, o, o + crop, o + crop)))


def normalise(hwc_u8):
    chw = hwc_u8.transpose(2, 0, 1)
    torch_like = (chw.astype(np.float32) / np.float32(255) - TV_MEAN[:, None, None]) / TV_STD[:, None, None]
    caffe = chw[::-1].astype(np.float32) - CAFFE_MEAN_BGR[:, None, None]
    return torch_like.astype(np.float32), caffe.astype(np.float32)


def gen_preprocess_cases():
    d = os.path.join(OUT, "preprocess")
    lines = []

    def noisy(h, w, c):
        y, x = np.mgrid[0:h, 0:w]
        base = (x * 7 + y * 3) % 256
        img = (base[..., None] + rng.integers(-60, 61, (h, w, c))).clip(0, 255)
        return img.astype(np.uint8) if c > 1 else img[..., 0].astype(np.uint8)

    cases = [
        # name, (h, w, channels), resize, crop, no_crop
        ("up_rgb", (23, 37, 3), 48, 41, 0),          # upscale, crop offset 3.5 -> 4
        ("down_rgb", (97, 151, 3), 40, 33, 0),       # antialiased downscale by 3.8 and 2.4
        ("down_gray", (131, 97, 1), 40, 33, 0),      # gray is replicated to 3 channels
        ("mixed_rgb", (23, 151, 3), 48, 48, 0),      # shrink x, stretch y, crop == resize
        ("nocrop_rgb", (50, 50, 3), 256, 31, 1),     # resize straight to 31 (resize ignored)
        ("same_size_rgb", (40, 40, 3), 40, 32, 0),   # no resampling at all, crop offset 4
        ("tiny_up_gray", (3, 5, 1), 17, 16, 0),      # crop offset 0.5 -> 0
        ("odd_down_rgb", (61, 59, 3), 29, 26, 0),    # crop offset 1.5 -> 2
    ]
    for name, (h, w, c), resize, crop, no_crop in cases:
        arr = noisy(h, w, c)
        src = f"{name}_src.png"
        Image.fromarray(arr, "L" if c == 1 else "RGB").save(os.path.join(d, src))
        out = pil_resize_crop(Image.fromarray(arr, "L" if c == 1 else "RGB"), resize, crop, no_crop)
        tv, caffe = normalise(out)
        tv.tofile(os.path.join(d, f"{name}_torchvision.f32"))
        caffe.tofile(os.path.join(d, f"{name}_caffe.f32"))
        lines.append(f"{name} {src} {resize} {crop} {no_crop}")
    with open(os.path.join(d, "manifest.txt"), "w") as f:
        f.write("# case source resize crop no_crop; goldens <case>_torchvision.f32 and <case>_caffe.f32 (3 x crop x crop)\n")
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# keep_aspect: torchvision's own Resize(int) (shorter side, aspect kept) + CenterCrop on PIL images.

def torchvision_keep_aspect(im, resize, crop):
    """PIL image -> torchvision Resize(resize) (an int: the shorter side) + CenterCrop(crop).
    Also returns the frame torchvision resized to and the crop offsets, the latter checked by
    cutting the window out of the resized frame and comparing with CenterCrop's pixels."""
    from torchvision import transforms as T
    frame = T.Resize(resize, interpolation=T.InterpolationMode.BILINEAR)(im)
    out = T.CenterCrop(crop)(frame)
    assert out.size == (crop, crop)
    fw, fh = frame.size
    ox, oy = crop_offset(fw, crop), crop_offset(fh, crop)
    assert np.array_equal(np.asarray(frame.crop((ox, oy, ox + crop, oy + crop))), np.asarray(out)), "offsets"
    return out, (fw, fh, ox, oy)


def gen_keep_aspect_cases(data_dir):
    """keep_aspect/: small synthetic cases as float32 goldens (both normalisations), and two real
    magnetic tile images at the MVTec protocol (Resize(256), CenterCrop(224)) as PNGs of PIL's
    8-bit result. Each case is chosen so that an offset rounds half to even."""
    from torchvision import transforms as T
    d = os.path.join(OUT, "keep_aspect")
    os.makedirs(d, exist_ok=True)
    local = np.random.default_rng(20240711)  # its own stream: the other goldens do not move
    lines = ["# case source width height resize crop frame_w frame_h off_x off_y; goldens "
             "<case>_torchvision.f32 / <case>_caffe.f32 (3 x crop x crop), or <case>_pil.png (8-bit crop) "
             "for sources under the data directory"]

    def noisy(h, w, c):
        y, x = np.mgrid[0:h, 0:w]
        base = (x * 5 + y * 3) % 256
        img = (base[..., None] + local.integers(-50, 51, (h, w, c))).clip(0, 255).astype(np.uint8)
        return img if c > 1 else img[..., 0]

    cases = [
        # name, (h, w, channels), resize, crop
        ("landscape_rgb", (97, 151, 3), 40, 33),   # frame 62 x 40: off_x round(14.5) = 14, off_y round(3.5) = 4
        ("portrait_gray", (130, 61, 1), 29, 26),   # frame 29 x 61: off_y round(17.5) = 18, off_x round(1.5) = 2
        ("landscape_up_rgb", (23, 37, 3), 48, 41), # upscale, frame 77 x 48: off_x 18, off_y round(3.5) = 4
    ]
    mean, std = TV_MEAN.tolist(), TV_STD.tolist()
    for name, (h, w, c), resize, crop in cases:
        arr = noisy(h, w, c)
        src = f"{name}_src.png"
        im = Image.fromarray(arr, "L" if c == 1 else "RGB")
        im.save(os.path.join(d, src))
        cropped, (fw, fh, ox, oy) = torchvision_keep_aspect(im.convert("RGB"), resize, crop)
        tv = T.Normalize(mean, std)(T.ToTensor()(cropped)).numpy().astype(np.float32)
        caffe = normalise(np.asarray(cropped))[1]
        tv.tofile(os.path.join(d, f"{name}_torchvision.f32"))
        caffe.tofile(os.path.join(d, f"{name}_caffe.f32"))
        lines.append(f"{name} {src} {w} {h} {resize} {crop} {fw} {fh} {ox} {oy}")
        print(f"keep_aspect {name}: {w}x{h} -> frame {fw}x{fh}, offsets ({ox}, {oy})")

    # Real images at the field's protocol; sources stay in the data directory.
    tiles = ["magnetic_tile/test/uneven/exp2_num_352504.jpg",  # 345 x 256: frame 345 x 256, off_x round(60.5) = 60
             "magnetic_tile/test/blowhole/exp1_num_54246.jpg"]  # 116 x 278: frame 256 x 613, off_y round(194.5) = 194
    for rel in tiles:
        path = os.path.join(data_dir, rel)
        if not os.path.exists(path):
            print("no", path, "- keep_aspect tile goldens not regenerated", file=sys.stderr)
            continue
        im = Image.open(path)
        w, h = im.size
        name = "tile_" + os.path.splitext(os.path.basename(rel))[0]
        cropped, (fw, fh, ox, oy) = torchvision_keep_aspect(im.convert("L"), 256, 224)
        cropped.save(os.path.join(d, f"{name}_pil.png"), optimize=True)
        lines.append(f"{name} {rel} {w} {h} 256 224 {fw} {fh} {ox} {oy}")
        print(f"keep_aspect {name}: {w}x{h} -> frame {fw}x{fh}, offsets ({ox}, {oy})")
    with open(os.path.join(d, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def gen_fullres(data_dir):
    src_dir = os.path.join(data_dir, "mvtec_ad_fullres", "bottle")
    if not os.path.isdir(src_dir):
        print("no", src_dir, "- fullres goldens not regenerated", file=sys.stderr)
        return
    d = os.path.join(OUT, "fullres")
    os.makedirs(d, exist_ok=True)
    lines = ["# path (relative to the data dir) width height channels crc32-of-PIL-decoded-pixels"]
    for rel in ("train/good/000.png", "test/broken_large/000.png", "ground_truth/broken_large/000_mask.png"):
        arr = pil_as_rules(os.path.join(src_dir, rel))
        c = 1 if arr.ndim == 2 else arr.shape[2]
        crc = zlib.crc32(np.ascontiguousarray(arr).tobytes()) & 0xFFFFFFFF
        lines.append(f"mvtec_ad_fullres/bottle/{rel} {arr.shape[1]} {arr.shape[0]} {c} {crc:08x}")
    # real JPEGs from other sources (cameras, photo tools), decoded by PIL on the same libjpeg
    others = sorted(os.path.join("natural", sub, f) for sub in ("skimage", "opencv")
                    for f in os.listdir(os.path.join(data_dir, "natural", sub)) if f.endswith((".jpg", ".png")))
    tiles = sorted(os.path.relpath(os.path.join(dp, f), data_dir)
                   for dp, _, fs in os.walk(os.path.join(data_dir, "magnetic_tile")) for f in fs
                   if f.endswith((".jpg", ".png")))
    for rel in others + tiles[::97]:
        arr = pil_as_rules(os.path.join(data_dir, rel))
        c = 1 if arr.ndim == 2 else arr.shape[2]
        crc = zlib.crc32(np.ascontiguousarray(arr).tobytes()) & 0xFFFFFFFF
        lines.append(f"{rel} {arr.shape[1]} {arr.shape[0]} {c} {crc:08x}")
    with open(os.path.join(d, "decode_crc.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    im = Image.open(os.path.join(src_dir, "train/good/000.png"))
    out = pil_resize_crop(im, 256, 224, 0)
    Image.fromarray(out, "RGB").save(os.path.join(d, "bottle_train_000_resize256_crop224_pil.png"), optimize=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--only", choices=["keep_aspect"],
                    help="regenerate one group only (keep_aspect needs python3-torchvision)")
    args = ap.parse_args()
    if args.only == "keep_aspect":
        gen_keep_aspect_cases(args.data_dir)
        return
    for sub in ("decode", "preprocess", "fullres"):
        os.makedirs(os.path.join(OUT, sub), exist_ok=True)
    gen_png_cases()
    gen_jpeg_cases()
    gen_bad_headers()
    with open(os.path.join(OUT, "decode", "manifest.txt"), "w") as f:
        f.write("# name file width height channels; expected pixels in <name>.raw (rows of width*channels bytes)\n")
        f.write("\n".join(manifest) + "\n")
    gen_preprocess_cases()
    gen_fullres(args.data_dir)
    gen_keep_aspect_cases(args.data_dir)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
