"""Scorer: patch features -> patch scores, image score and anomaly maps (rp_scorer); and Score,
the result of scoring one image."""
import ctypes
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

import numpy as np

from . import _lib
from . import _structs as S
from ._handle import Handle, Uses, new_handle_ptr
from ._util import floats, fptr, make_params, u8ptr
from .errors import check
from .image import ImageLike, as_image

if TYPE_CHECKING:  # annotations only: these modules do not import this one, but keep it cheap
    from .bank import Bank
    from .extractor import Extractor
    from .trainer import Embedding

DEFAULT_REWEIGHT_NEIGHBORS = 9
DEFAULT_MAP_SIGMA = 4.0


class Decision(IntEnum):
    """RP_DECISION_*: the verdict of Model.score against the image threshold."""
    NONE = 0  # no image threshold (and always from the Scorer, which knows no thresholds)
    NORMAL = 1
    ANOMALOUS = 2


DECISION_NONE = Decision.NONE
DECISION_NORMAL = Decision.NORMAL
DECISION_ANOMALOUS = Decision.ANOMALOUS


class Score:
    """The scores of one image.

    Every rp_score_result field is an attribute: score (THE image score, reweighted), score_max
    (plain maximum patch score), reweight, max_patch, max_patch_neighbor, and from Model.score the
    decision (DECISION_*), threshold, pixel_threshold (NaN when the model has none) and
    mask_pixels. anomalous is True / False, or None without an image threshold.
    Arrays, None when not asked for:
      map          float32 height x width, the anomaly map in the image's own geometry
      mask         uint8 height x width, 1 where map > pixel_threshold (Model.score(mask=True))
      map_input    float32 input_size x input_size, the map in network-input geometry
      patch_scores float32 grid_size x grid_size (Scorer.score_features only)
    """

    def __init__(self, result, map=None, mask=None, map_input=None, patch_scores=None):
        for name, _ in type(result)._fields_:
            if name != "struct_size" and not name.startswith("reserved"):
                setattr(self, name, getattr(result, name))
        self.map = map
        self.mask = mask
        self.map_input = map_input
        self.patch_scores = patch_scores

    @property
    def anomalous(self):
        return {DECISION_NORMAL: False, DECISION_ANOMALOUS: True}.get(self.decision)

    def __repr__(self):
        return "Score(score=%.6g, score_max=%.6g, anomalous=%s)" % (self.score, self.score_max, self.anomalous)


def new_result():
    r = S.ScoreResult()
    r.struct_size = ctypes.sizeof(r)
    return r


class Scorer(Handle):
    """Scorer(bank, extractor=None, embedding=None, params=None, **fields).

    The scorer borrows bank (frozen), extractor (None: a features-only scorer, which then needs
    grid_size and input_size) and embedding (None: PatchCore): it keeps them alive itself, so they
    may be dropped or closed in any order. fields are rp_scorer_params fields
    (reweight_neighbors, map_sigma, num_threads, ...). With an extractor, resize, no_crop and
    keep_aspect left 0 take the extractor's (the library does it; a non-zero value other than the
    extractor's raises ShapeError). Immutable: scoring may run from several threads.
    """

    _free_name = "rp_scorer_free"

    def __init__(self, bank: "Bank", extractor: "Optional[Extractor]" = None, embedding: "Optional[Embedding]" = None,
                 params: Union[S.ScorerParams, Dict[str, Any], None] = None, **fields: Any) -> None:
        p = make_params(S.ScorerParams, "rp_scorer_params_init", params, **fields)
        out = new_handle_ptr(_lib.rp_scorer)
        with Uses([extractor, embedding, bank]) as (ep, fp, bp):
            check(_lib.lib.rp_scorer_create(ep, fp, bp, ctypes.byref(p), ctypes.byref(out)))
            owners = [h for h in (extractor, embedding, bank) if h is not None]
            self._init_handle(out, owners=owners)
        # Python references as well as the use counts: the owners outlive this scorer.
        self.bank, self.extractor, self.embedding = bank, extractor, embedding
        self._cache_shape()

    @classmethod
    def _view(cls, ptr, owner) -> "Scorer":
        self = cls.__new__(cls)
        self._init_handle(ptr, owners=(owner,), owned=False)
        self.bank = self.extractor = self.embedding = None
        self._cache_shape()
        return self

    def _cache_shape(self) -> None:
        # The scorer is immutable: read its grid and input size once, not per scored image.
        info = self.info
        self._grid_size, self._input_size = info.grid_size, info.input_size

    @property
    def info(self) -> S.ScorerInfo:
        """rp_scorer_info: grid_size, input_size, feature_dim, bank_dim, bank_size, geometry, ..."""
        info = S.ScorerInfo()
        info.struct_size = ctypes.sizeof(info)
        with self._use() as p:
            check(_lib.lib.rp_scorer_get_info(p, ctypes.byref(info), ctypes.sizeof(info)))
        return info

    def score(self, image: ImageLike, map: bool = True, map_input: bool = False, order: str = "RGB") -> Score:
        """An Image (or path, or uint8 ndarray in `order`) -> Score; map (image geometry) and
        map_input (network-input geometry) as asked."""
        img, owned = as_image(image, order)
        try:
            with self._use() as p, img._use() as ip:
                size = self._input_size
                r = new_result()
                m = np.empty((_lib.lib.rp_image_height(ip), _lib.lib.rp_image_width(ip)), np.float32) \
                    if map else None
                mi = np.empty((size, size), np.float32) if map_input else None
                check(_lib.lib.rp_scorer_score(p, ip, ctypes.byref(r), fptr(mi), 0 if mi is None else mi.size,
                                               fptr(m), 0 if m is None else m.size))
            return Score(r, map=m, map_input=mi)
        finally:
            if owned:
                img.close()

    def score_features(self, features: np.ndarray, patch_scores: bool = True, map_input: bool = False) -> Score:
        """One image's patch features (grid_size^2 x feature_dim) -> Score with patch_scores
        (grid_size x grid_size) and map_input as asked."""
        f = floats(features, "features")
        g, size = self._grid_size, self._input_size
        r = new_result()
        ps = np.empty((g, g), np.float32) if patch_scores else None
        mi = np.empty((size, size), np.float32) if map_input else None
        with self._use() as p:
            check(_lib.lib.rp_scorer_score_features(p, fptr(f), f.size, ctypes.byref(r),
                                                    fptr(ps), 0 if ps is None else ps.size,
                                                    fptr(mi), 0 if mi is None else mi.size))
        return Score(r, map_input=mi, patch_scores=ps)

    def map_to_image(self, map_input: np.ndarray, width: int, height: int) -> np.ndarray:
        """An input_size x input_size map -> float32 height x width, undoing crop and resize."""
        mi = floats(map_input, "map_input", ndim=2)
        out = np.empty((int(height), int(width)), np.float32)
        with self._use() as p:
            check(_lib.lib.rp_scorer_map_to_image(p, fptr(mi), mi.size, int(width), int(height),
                                                  fptr(out), out.size))
        return out

    def mask_to_input(self, mask: ImageLike, threshold: int = 127) -> np.ndarray:
        """A ground-truth mask (Image, path or ndarray) -> uint8 input_size x input_size, 1 = defect."""
        img, owned = as_image(mask)
        try:
            size = self._input_size
            out = np.empty((size, size), np.uint8)
            with self._use() as p, img._use() as ip:
                check(_lib.lib.rp_scorer_mask_to_input(p, ip, int(threshold), u8ptr(out), out.size))
            return out
        finally:
            if owned:
                img.close()
