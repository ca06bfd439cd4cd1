"""Extractor: the frozen ImageNet ResNet that turns images into patch features (rp_extractor)."""
import ctypes
import os
from enum import IntEnum
from typing import Any, Dict, Iterable, Optional, Tuple, Union

import numpy as np

from . import _lib
from . import _structs as S
from ._handle import Handle, Uses, new_handle_ptr
from ._util import fptr, floats, make_params
from .errors import E_SHAPE, ShapeError, check
from .image import ImageLike, as_image



class Arch(IntEnum):
    """RP_ARCH_*."""
    RESNET50 = 1
    WIDE_RESNET50_2 = 2


class Layout(IntEnum):
    """RP_LAYOUT_*: where the down-sampling stride sits and how inputs are normalised."""
    TORCHVISION = 1
    KERAS = 2


class Norm(IntEnum):
    """RP_NORM_*: input normalisation (0 = the layout's own)."""
    TORCHVISION = 1
    CAFFE = 2


class Output(IntEnum):
    """RP_OUTPUT_*: how far the network runs."""
    LAYER3 = 1
    CLASSIFIER = 2


class Precision(IntEnum):
    """RP_PRECISION_*."""
    FP32 = 1
    BF16 = 2
    AUTO = 3  # bf16 where the CPU runs it natively, fp32 elsewhere


ARCH_RESNET50 = Arch.RESNET50
ARCH_WIDE_RESNET50_2 = Arch.WIDE_RESNET50_2
LAYOUT_TORCHVISION = Layout.TORCHVISION
LAYOUT_KERAS = Layout.KERAS
NORM_TORCHVISION = Norm.TORCHVISION
NORM_CAFFE = Norm.CAFFE
OUTPUT_LAYER3 = Output.LAYER3
OUTPUT_CLASSIFIER = Output.CLASSIFIER
PRECISION_FP32 = Precision.FP32
PRECISION_BF16 = Precision.BF16
PRECISION_AUTO = Precision.AUTO


def default_weights_path() -> str:
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

    def __init__(self, weights_path: "Union[str, os.PathLike[str], None]" = None,
                 params: Union[S.ExtractorParams, Dict[str, Any], None] = None, **fields: Any) -> None:
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
    def info(self) -> S.ExtractorInfo:
        """rp_extractor_info: input_size, grid_size, feature_dim, layer sizes, ..."""
        info = S.ExtractorInfo()
        info.struct_size = ctypes.sizeof(info)
        with self._use() as p:
            check(_lib.lib.rp_extractor_get_info(p, ctypes.byref(info), ctypes.sizeof(info)))
        return info

    def preprocess(self, image: ImageLike) -> np.ndarray:
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

    def _network_input(self, inputs, fn, size):
        """inputs as a float32 batch x 3 x size x size array; ShapeError naming the shapes otherwise."""
        x = floats(inputs, "inputs")
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[1:] != (3, size, size) or x.shape[0] == 0:
            raise ShapeError(E_SHAPE, "Extractor.%s: inputs have shape %s, expected (batch, 3, %d, %d) "
                                      "or (3, %d, %d)" % (fn, tuple(np.shape(inputs)), size, size, size, size))
        return x

    def forward(self, inputs: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Network inputs (batch x 3 x S x S, or 3 x S x S) -> (layer2, layer3) maps, float32 NCHW."""
        info = self.info
        x = self._network_input(inputs, "forward", info.input_size)
        batch = x.shape[0]
        l2 = np.empty((batch, info.layer2_channels, info.layer2_size, info.layer2_size), np.float32)
        l3 = np.empty((batch, info.layer3_channels, info.layer3_size, info.layer3_size), np.float32)
        with self._use() as p:
            check(_lib.lib.rp_extractor_forward(p, fptr(x), x.size, batch, fptr(l2), l2.size, fptr(l3), l3.size))
        return l2, l3

    def classify(self, inputs: np.ndarray) -> np.ndarray:
        """Network inputs -> batch x 1000 softmax probabilities (needs output=OUTPUT_CLASSIFIER)."""
        x = self._network_input(inputs, "classify", self.info.input_size)
        probs = np.empty((x.shape[0], 1000), np.float32)
        with self._use() as p:
            check(_lib.lib.rp_extractor_classify(p, fptr(x), x.size, x.shape[0], fptr(probs), probs.size))
        return probs

    def patch_features(self, images: Iterable[ImageLike]) -> np.ndarray:
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
