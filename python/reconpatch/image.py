"""Image: 8-bit gray or RGB pixels held by the library (rp_image)."""
import ctypes
import os
from enum import IntEnum
from typing import Union

import numpy as np

from . import _lib
from ._handle import Handle, new_handle_ptr
from ._util import make_params
from .errors import check



class PixelFormat(IntEnum):
    """RP_PIXEL_*: the layout of caller pixel memory (Image.from_array picks it from the order)."""
    GRAY8 = 1
    RGB8 = 2
    BGR8 = 3
    RGBA8 = 4
    BGRA8 = 5


PIXEL_GRAY8 = PixelFormat.GRAY8
PIXEL_RGB8 = PixelFormat.RGB8
PIXEL_BGR8 = PixelFormat.BGR8
PIXEL_RGBA8 = PixelFormat.RGBA8
PIXEL_BGRA8 = PixelFormat.BGRA8

# (channels, order) -> pixel format of caller memory.
_FORMATS = {
    (1, "RGB"): PIXEL_GRAY8, (1, "BGR"): PIXEL_GRAY8,
    (3, "RGB"): PIXEL_RGB8, (3, "BGR"): PIXEL_BGR8,
    (4, "RGB"): PIXEL_RGBA8, (4, "BGR"): PIXEL_BGRA8,
}


class Image(Handle):
    """An image: gray (1 channel) or RGB (3 channels), 8 bits per channel.

    Build one with Image.from_file(path), Image.from_bytes(png_or_jpeg_bytes) or
    Image.from_array(ndarray, order="RGB"). Colour input becomes RGB; alpha is dropped.
    """

    _free_name = "rp_image_free"

    def __init__(self, _ptr=None):
        if _ptr is None:
            raise TypeError("use Image.from_file, Image.from_bytes or Image.from_array")
        self._init_handle(_ptr)

    @staticmethod
    def _load_params(max_pixels):
        return make_params(_lib.S.ImageLoadParams, "rp_image_load_params_init", max_pixels=max_pixels or 0)

    @classmethod
    def from_file(cls, path, max_pixels=0):
        """Decode a PNG or JPEG file (told by its magic). Images over max_pixels (0 = the library's
        100 Mpixel default) fail with RP_E_LIMIT before decoding."""
        out = new_handle_ptr(_lib.rp_image)
        params = cls._load_params(max_pixels)
        check(_lib.lib.rp_image_load_file(os.fsencode(path), ctypes.byref(params), ctypes.byref(out)))
        return cls(out)

    @classmethod
    def from_bytes(cls, data, max_pixels=0):
        """Decode a PNG or JPEG held in a bytes-like object."""
        buf = bytes(data)
        out = new_handle_ptr(_lib.rp_image)
        params = cls._load_params(max_pixels)
        check(_lib.lib.rp_image_load_memory(buf, len(buf), ctypes.byref(params), ctypes.byref(out)))
        return cls(out)

    @classmethod
    def from_array(cls, array, order="RGB"):
        """Copy pixels from a uint8 ndarray: H x W (gray), H x W x 1, H x W x 3 or H x W x 4.

        order: "RGB" (also for RGBA) or "BGR" (OpenCV's order, also for BGRA); ignored for gray.
        Row strides (crops, views) are passed through; other layouts are copied to contiguous first.
        """
        a = np.asarray(array)
        if a.dtype != np.uint8:
            raise TypeError("Image.from_array: dtype must be uint8, got %s" % a.dtype)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3:
            raise ValueError("Image.from_array: expected H x W or H x W x C, got shape %s" % (a.shape,))
        order = str(order).upper()
        order = {"RGBA": "RGB", "BGRA": "BGR"}.get(order, order)
        if order not in ("RGB", "BGR"):
            raise ValueError("Image.from_array: order must be 'RGB' or 'BGR', got %r" % (order,))
        height, width, channels = a.shape
        if (channels, order) not in _FORMATS:
            raise ValueError("Image.from_array: %d channels; expected 1, 3 or 4" % channels)
        if height == 0 or width == 0:
            raise ValueError("Image.from_array: empty image, shape %s" % (a.shape,))
        # The library takes rows of tightly packed pixels at any positive row distance.
        if not (a.strides[2] == 1 and a.strides[1] == channels and a.strides[0] >= width * channels):
            a = np.ascontiguousarray(a)
        out = new_handle_ptr(_lib.rp_image)
        check(_lib.lib.rp_image_from_pixels(a.ctypes.data, width, height, a.strides[0],
                                            _FORMATS[(channels, order)], ctypes.byref(out)))
        return cls(out)

    @property
    def width(self):
        with self._use() as p:
            return _lib.lib.rp_image_width(p)

    @property
    def height(self):
        with self._use() as p:
            return _lib.lib.rp_image_height(p)

    @property
    def channels(self):
        with self._use() as p:
            return _lib.lib.rp_image_channels(p)

    @property
    def shape(self):
        """(height, width) for gray, (height, width, 3) for RGB: the shape of to_array()."""
        with self._use() as p:
            h, w, c = (_lib.lib.rp_image_height(p), _lib.lib.rp_image_width(p), _lib.lib.rp_image_channels(p))
        return (h, w) if c == 1 else (h, w, c)

    def to_array(self):
        """A copy of the pixels: uint8 H x W (gray) or H x W x 3 (RGB)."""
        with self._use() as p:
            shape = self.shape
            n = int(np.prod(shape))
            data = _lib.lib.rp_image_pixels(p)
            return np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(data)).reshape(shape).copy()

    def save_png(self, path):
        """Write the image as an 8-bit PNG (atomically: the file appears complete or not at all)."""
        with self._use() as p:
            check(_lib.lib.rp_image_save_png(p, os.fsencode(path)))

    def overlay_heatmap(self, map, lo=None, hi=None, alpha=0.5):
        """A new RGB Image: map (height x width, e.g. Score.map) coloured with matplotlib's "jet"
        over [lo, hi] (default: the map's minimum and maximum) and alpha-blended over this image."""
        m = np.ascontiguousarray(map, dtype=np.float32)
        if m.ndim != 2:
            raise ValueError("overlay_heatmap: map must be height x width, got shape %s" % (m.shape,))
        lo = float(m.min()) if lo is None else float(lo)
        hi = float(m.max()) if hi is None else float(hi)
        if not hi > lo:  # a flat map: any range that puts it at the bottom of the colour map
            hi = lo + 1.0
        out = new_handle_ptr(_lib.rp_image)
        with self._use() as p:
            if m.shape != (_lib.lib.rp_image_height(p), _lib.lib.rp_image_width(p)):
                raise ValueError("overlay_heatmap: map shape %s != image shape %s" % (m.shape, self.shape[:2]))
            check(_lib.lib.rp_image_overlay_heatmap(p, m.ctypes.data_as(_lib.c_float_p), m.size, lo, hi,
                                                    float(alpha), ctypes.byref(out)))
        return Image(out)

    def __repr__(self):
        if self.closed:
            return "Image(closed)"
        return "Image(width=%d, height=%d, channels=%d)" % (self.width, self.height, self.channels)


def as_image(x, order="RGB"):
    """(image, owned): an Image as it is, a path or an ndarray turned into a new Image (owned=True:
    the caller closes it when done)."""
    if isinstance(x, Image):
        return x, False
    if isinstance(x, (str, bytes, os.PathLike)):
        return Image.from_file(x), True
    if isinstance(x, np.ndarray):
        return Image.from_array(x, order=order), True
    raise TypeError("expected an Image, a path or a uint8 ndarray, got %s" % type(x).__name__)


# What the methods taking an image accept: an Image, a file path, or a uint8 ndarray.
ImageLike = Union[Image, str, "os.PathLike[str]", np.ndarray]
