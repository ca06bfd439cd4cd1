"""Extractor: the frozen ImageNet ResNet that turns images into patch features (rp_extractor)."""
import ctypes
import os

import numpy as np

from . import _lib
from . import _structs as S
from ._handle import Handle, Uses, new_handle_ptr
from ._util import fptr, floats, make_params
from .errors import check
from .image import as_image

ARCH_RESNET50 = 1
ARCH_WIDE_RESNET50_2 = 2
LAYOUT_TORCHVISION = 1
LAYOUT_KERAS = 2
NORM_TORCHVISION = 1
NORM_CAFFE = 2
OUTPUT_LAYER3 = 1
OUTPUT_CLASSIFIER = 2
PRECISION_FP32 = 1
PRECISION_BF16 = 2


def default_weights_path():
    """Path of the cached Keras ResNet-50 model.json (`make weights`); ReconpatchError (RP_E_IO)
    when it is not there."""
    buf = ctypes.create_string_buffer(4096)
    check(_lib.lib.rp_default_weights_path(buf, len(buf)))
    return buf.value.decode()


class Extractor(Handle):
    """Extractor(weights_path=None, params=None, **fields).

    weights_path None means default_weights_path(). fields are rp_extractor_params fields
    (precision=PRECISION_BF16, resize=256, crop=224, keep_aspect=1, num_threads=2, ...); params may be an
    ExtractorParams struct or a dict of them. Immutable: methods may run from several threads.
    """

    _free_name = "rp_extractor_free"

    def __init__(self, weights_path=None, params=None, **fields):
        p = make_params(S.ExtractorParams, "rp_extractor_params_init", params, **fields)
        if weights_path is not None:
            p.weights_path = os.fsencode(weights_path)
        elif not p.weights_path:
            p.weights_path = os.fsencode(default_weights_path())
        out = new_handle_ptr(_lib.rp_extractor)
        check(_lib.lib.rp_extractor_create(ctypes.byref(p), ctypes.byref(out)))
        self._init_handle(out)

    @classmethod
    def _view(cls, ptr, owner):
        """A non-owning view of an extractor that owner (e.g. a Model) holds."""
        self = cls.__new__(cls)
        self._init_handle(ptr, owners=(owner,), owned=False)
        return self

    @property
    def info(self):
        """rp_extractor_info: input_size, grid_size, feature_dim, layer sizes, ..."""
        info = S.ExtractorInfo()
        info.struct_size = ctypes.sizeof(info)
        with self._use() as p:
            check(_lib.lib.rp_extractor_get_info(p, ctypes.byref(info), ctypes.sizeof(info)))
        return info

    def preprocess(self, image):
        """Image (or path, or ndarray) -> the normalised network input, float32 3 x S x S."""
        img, owned = as_image(image)
        try:
            with self._use() as p, img._use() as ip:
                size = self.info.input_size
                out = np.empty((3, size, size), np.float32)
                check(_lib.lib.rp_extractor_preprocess(p, ip, fptr(out), out.size))
            return out
        finally:
            if owned:
                img.close()

    def forward(self, inputs):
        """Network inputs (batch x 3 x S x S, or 3 x S x S) -> (layer2, layer3) maps, float32 NCHW."""
        x = floats(inputs, "inputs")
        if x.ndim == 3:
            x = x[None]
        info = self.info
        batch = x.shape[0]
        l2 = np.empty((batch, info.layer2_channels, info.layer2_size, info.layer2_size), np.float32)
        l3 = np.empty((batch, info.layer3_channels, info.layer3_size, info.layer3_size), np.float32)
        with self._use() as p:
            check(_lib.lib.rp_extractor_forward(p, fptr(x), batch, fptr(l2), l2.size, fptr(l3), l3.size))
        return l2, l3

    def classify(self, inputs):
        """Network inputs -> batch x 1000 softmax probabilities (needs output=OUTPUT_CLASSIFIER)."""
        x = floats(inputs, "inputs")
        if x.ndim == 3:
            x = x[None]
        probs = np.empty((x.shape[0], 1000), np.float32)
        with self._use() as p:
            check(_lib.lib.rp_extractor_classify(p, fptr(x), x.shape[0], fptr(probs), probs.size))
        return probs

    def patch_features(self, images):
        """Images (Image, path or ndarray each) -> float32 count x grid_size^2 x feature_dim."""
        images = list(images)
        converted = [as_image(x) for x in images]
        try:
            info = self.info
            out = np.empty((len(images), info.grid_size * info.grid_size, info.feature_dim), np.float32)
            with self._use() as p, Uses([img for img, _ in converted]) as ptrs:
                arr = (ctypes.POINTER(_lib.rp_image) * len(ptrs))(*ptrs)
                check(_lib.lib.rp_extractor_patch_features(p, arr, len(ptrs), fptr(out), out.size))
            return out
        finally:
            for img, owned in converted:
                if owned:
                    img.close()
