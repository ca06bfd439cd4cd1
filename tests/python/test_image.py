"""Image.from_array keeps every pixel for each layout and memory order; files decode as PIL does."""
import os

import numpy as np
import pytest

import reconpatch as rp
from reconpatch import errors
from conftest import BOTTLE

RNG = np.random.default_rng(1234)


def rand(*shape):
    return RNG.integers(0, 256, size=shape, dtype=np.uint8)


def test_image__gray_round_trip():
    a = rand(17, 23)
    with rp.Image.from_array(a) as img:
        assert (img.width, img.height, img.channels) == (23, 17, 1)
        assert img.shape == (17, 23)
        np.testing.assert_array_equal(img.to_array(), a)


def test_image__gray_with_channel_axis_round_trip():
    a = rand(9, 11, 1)
    np.testing.assert_array_equal(rp.Image.from_array(a).to_array(), a[:, :, 0])


def test_image__rgb_round_trip():
    a = rand(13, 7, 3)
    with rp.Image.from_array(a, order="RGB") as img:
        assert img.channels == 3
        np.testing.assert_array_equal(img.to_array(), a)


def test_image__bgr_is_swapped_to_rgb():
    bgr = rand(8, 10, 3)
    np.testing.assert_array_equal(rp.Image.from_array(bgr, order="BGR").to_array(), bgr[:, :, ::-1])


def test_image__rgba_and_bgra_drop_alpha():
    rgba = rand(6, 5, 4)
    np.testing.assert_array_equal(rp.Image.from_array(rgba).to_array(), rgba[:, :, :3])
    np.testing.assert_array_equal(rp.Image.from_array(rgba, order="BGRA").to_array(), rgba[:, :, 2::-1])


def test_image__row_strided_crop_is_read_in_place():
    big = rand(40, 50, 3)
    crop = big[5:25, 10:40]  # rows longer than the crop: passed with its row stride
    assert not crop.flags.c_contiguous
    np.testing.assert_array_equal(rp.Image.from_array(crop).to_array(), crop)


@pytest.mark.parametrize("view", ["every_other", "reversed_rows", "channel_flip", "fortran", "transposed"])
def test_image__non_contiguous_layouts_round_trip(view):
    base = rand(20, 30, 3)
    a = {
        "every_other": base[::2, ::3],
        "reversed_rows": base[::-1],
        "channel_flip": base[:, :, ::-1],
        "fortran": np.asfortranarray(base),
        "transposed": base.transpose(1, 0, 2),
    }[view]
    np.testing.assert_array_equal(rp.Image.from_array(a).to_array(), a)
    gray = np.asfortranarray(base[:, :, 0])[::-1, ::2]
    np.testing.assert_array_equal(rp.Image.from_array(gray).to_array(), gray)


@pytest.mark.parametrize("bad, exc", [
    (np.zeros((4, 4, 3), np.float32), TypeError),
    (np.zeros((4, 4), np.uint16), TypeError),
    (np.zeros((4, 4, 2), np.uint8), ValueError),
    (np.zeros((4, 4, 5), np.uint8), ValueError),
    (np.zeros((2, 4, 4, 3), np.uint8), ValueError),
    (np.zeros((4,), np.uint8), ValueError),
    (np.zeros((0, 4, 3), np.uint8), ValueError),
])
def test_image__bad_arrays_are_rejected(bad, exc):
    with pytest.raises(exc):
        rp.Image.from_array(bad)


def test_image__unknown_order_is_rejected():
    with pytest.raises(ValueError, match="order"):
        rp.Image.from_array(rand(4, 4, 3), order="GRB")


def test_image__file_and_bytes_decode_like_pil():
    Image = pytest.importorskip("PIL.Image")
    path = os.path.join(BOTTLE, "test", "broken_large", "000.png")
    expected = np.asarray(Image.open(path).convert("RGB"))
    with rp.Image.from_file(path) as a, rp.Image.from_bytes(open(path, "rb").read()) as b:
        np.testing.assert_array_equal(a.to_array(), expected)
        np.testing.assert_array_equal(b.to_array(), expected)
    mask = os.path.join(BOTTLE, "ground_truth", "broken_large", "000_mask.png")
    np.testing.assert_array_equal(rp.Image.from_file(mask).to_array(), np.asarray(Image.open(mask)))


def test_image__max_pixels_limit():
    path = os.path.join(BOTTLE, "test", "good", "000.png")  # 256 x 256
    with pytest.raises(rp.ReconpatchError) as info:
        rp.Image.from_file(path, max_pixels=256 * 255)
    assert info.value.code == errors.E_LIMIT
    assert rp.Image.from_file(path, max_pixels=256 * 256).width == 256


def test_image__closed_image_refuses_use():
    img = rp.Image.from_array(rand(3, 3))
    img.close()
    img.close()  # idempotent
    assert img.closed
    with pytest.raises(ValueError, match="closed"):
        img.to_array()


def test_image__save_png_reads_back_with_pil(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    for a in (rand(19, 33, 3), rand(8, 5)):
        path = tmp_path / ("%d.png" % a.ndim)
        rp.Image.from_array(a).save_png(path)
        np.testing.assert_array_equal(np.asarray(Image.open(path)), a)
    with pytest.raises(rp.ReconpatchError) as info:
        rp.Image.from_array(rand(4, 4)).save_png(tmp_path / "no" / "such" / "dir.png")
    assert info.value.code == errors.E_IO


def test_image__heatmap_overlay_matches_matplotlib_jet():
    matplotlib = pytest.importorskip("matplotlib")
    pixels = rand(24, 40, 3)
    heat = RNG.normal(size=(24, 40)).astype(np.float32)
    lo, hi, alpha = -1.5, 2.0, 0.625  # exact in float32, the type the C call takes
    with rp.Image.from_array(pixels) as img, img.overlay_heatmap(heat, lo, hi, alpha) as out:
        got = out.to_array().astype(int)
    t = np.clip((heat.astype(np.float64) - lo) / (hi - lo), 0, 1)
    jet = matplotlib.colormaps["jet"](t)[..., :3]
    expected = np.floor((1 - alpha) * pixels + alpha * 255 * jet + 0.5).astype(int)
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError):
        rp.Image.from_array(pixels).overlay_heatmap(heat[:, :39])
