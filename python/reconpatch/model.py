"""Model: the one-call API (rp_train / rp_train_images / rp_score_image / rp_model_*)."""
import contextlib
import ctypes
import math
import os
from enum import IntEnum

import numpy as np

from . import _lib
from . import _structs as S
from ._handle import Handle, Uses, new_handle_ptr
from ._progress import ProgressCall
from ._util import fptr, make_params, u8ptr
from .bank import Bank
from .errors import check
from .extractor import Extractor
from .image import as_image
from .scorer import Score, Scorer, new_result
from .trainer import Embedding



class ThresholdRule(IntEnum):
    """RP_THRESHOLD_RULE_*: how a model's thresholds were set."""
    NONE = 0
    QUANTILE = 1
    F1 = 2
    USER = 3


class Method(IntEnum):
    """RP_METHOD_*."""
    RECONPATCH = 1
    PATCHCORE = 2
    PCA = 3


THRESHOLD_RULE_NONE = ThresholdRule.NONE
THRESHOLD_RULE_QUANTILE = ThresholdRule.QUANTILE
THRESHOLD_RULE_F1 = ThresholdRule.F1
THRESHOLD_RULE_USER = ThresholdRule.USER
METHOD_RECONPATCH = Method.RECONPATCH
METHOD_PATCHCORE = Method.PATCHCORE
METHOD_PCA = Method.PCA
_METHODS = {"reconpatch": METHOD_RECONPATCH, "patchcore": METHOD_PATCHCORE, "pca": METHOD_PCA}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


_HEADS = {"auto": 0, "shared": 1, "per-category": 2, "none": 3}


def _heads_code(heads):
    """rp_train_params.heads from "auto", "shared", "per-category" or "none" (or the number)."""
    if isinstance(heads, str):
        try:
            return _HEADS[heads.lower()]
        except KeyError:
            raise ValueError("heads must be 'auto', 'shared', 'per-category' or 'none', got %r" % heads) from None
    return int(heads)


def _method_code(method):
    if isinstance(method, str):
        try:
            return _METHODS[method.lower()]
        except KeyError:
            raise ValueError("method must be 'reconpatch' or 'patchcore', got %r" % method) from None
    return int(method)


def _need(name):
    if not _lib.has(name):
        raise NotImplementedError("%s: the loaded library (%s) does not provide it" % (name, _lib.path))


def list_images(folder):
    """The PNG / JPEG files of a folder, sorted by name."""
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    return [os.path.join(folder, n) for n in names]


class Model(Handle):
    """A trained anomaly detector: extractor settings, the learned head (ReConPatch), a frozen bank.

    Make one with Model.train(...). score() may run from several threads at once.
    The parts (extractor, bank, scorer, embedding) are views owned by the model: they keep the model
    alive while they are in use.
    """

    _free_name = "rp_model_free"

    def __init__(self, _ptr=None):
        if _ptr is None:
            raise TypeError("use Model.train(...)")
        self._init_handle(_ptr)

    @classmethod
    def train(cls, images, method="reconpatch", progress=None, extractor=None, trainer=None, bank=None,
              scorer=None, batch_size=0, calibration_fraction=0.0, calibration_quantile=0.0, categories=None,
              feature_memory_limit=0, spill_dir=None, heads="auto"):
        """Train on normal images.

        images     a folder, or a list of paths, Images or uint8 ndarrays (RGB)
        method     "reconpatch" (learned head, default), "patchcore" or "pca" (PCA onto
                   trainer["repr_dim"] components, the untrained baseline of the head)
        progress   progress(ProgressInfo) -> True to cancel; raising cancels and re-raises
        extractor, trainer, bank, scorer: dicts of the rp_*_params fields (or the structs), e.g.
                   extractor={"precision": PRECISION_BF16}, bank={"coreset_ratio": 0.1}
        batch_size images per backbone batch (0 = 4)
        calibration_fraction  share of the images held out to set the thresholds (0 = none), with
                   the quantile rule at calibration_quantile (0 = 0.99); see Model.calibrate
        categories one name per image: a model of several products (docs/unified.md), each with
                   its own bank and thresholds, numbered in the order the names first appear
        feature_memory_limit  bytes of patch features held in memory while training (0 = 2 GiB,
                   None = never spill); past it they go to a temporary file in spill_dir
                   ($TMPDIR or /tmp), with the same model as a result
        heads      with categories and a head (reconpatch, pca): "per-category" (the default
                   "auto": each product a head fitted on its images alone) or "shared" (one head
                   fitted on every product's images)
        """
        if isinstance(images, (str, bytes, os.PathLike)) and os.path.isdir(images):
            images = list_images(images)
        images = list(images)
        # Sub-structs: built from the library defaults; kept in locals for the call.
        ep = tp = bp = sp = None
        if extractor is not None:
            # weights_path unset: the library takes the default (rp_default_weights_path).
            ep = make_params(S.ExtractorParams, "rp_extractor_params_init", extractor)
        if trainer is not None:
            tp = make_params(S.TrainerParams, "rp_trainer_params_init", trainer)
        if bank is not None:
            bp = make_params(S.BankParams, "rp_bank_params_init", bank)
        if scorer is not None:
            sp = make_params(S.ScorerParams, "rp_scorer_params_init", scorer)
        p = make_params(S.TrainParams, "rp_train_params_init", method=_method_code(method),
                        batch_size=batch_size, calibration_fraction=calibration_fraction,
                        calibration_quantile=calibration_quantile)
        p.feature_memory_limit = 2**64 - 1 if feature_memory_limit is None else int(feature_memory_limit)
        spill = os.fsencode(spill_dir) if spill_dir is not None else None
        p.spill_dir = spill
        p.heads = _heads_code(heads)
        p.extractor = ctypes.pointer(ep) if ep is not None else None
        p.trainer = ctypes.pointer(tp) if tp is not None else None
        p.bank = ctypes.pointer(bp) if bp is not None else None
        p.scorer = ctypes.pointer(sp) if sp is not None else None
        if categories is not None:
            categories = [str(c) for c in categories]
            if len(categories) != len(images):
                raise ValueError("categories: %d names for %d images" % (len(categories), len(images)))
            names = list(dict.fromkeys(categories))
            index = (ctypes.c_uint32 * max(len(images), 1))(*[names.index(c) for c in categories])
            encoded = (ctypes.c_char_p * len(names))(*[n.encode() for n in names])
            p.category_count = len(names)
            p.image_categories = ctypes.cast(index, ctypes.POINTER(ctypes.c_uint32))
            p.category_names = ctypes.cast(encoded, ctypes.POINTER(ctypes.c_char_p))

        call = ProgressCall(progress)
        out = new_handle_ptr(_lib.rp_model)
        if all(isinstance(x, (str, bytes, os.PathLike)) for x in images):
            paths = (ctypes.c_char_p * max(len(images), 1))(*[os.fsencode(x) for x in images])
            rc = _lib.lib.rp_train(paths, len(images), ctypes.byref(p), call.cfunc, None, ctypes.byref(out))
            call.check(rc)
        else:
            converted = [as_image(x) for x in images]
            try:
                with Uses([img for img, _ in converted]) as ptrs:
                    arr = (ctypes.POINTER(_lib.rp_image) * max(len(ptrs), 1))(*ptrs)
                    rc = _lib.lib.rp_train_images(arr, len(ptrs), ctypes.byref(p), call.cfunc, None,
                                                  ctypes.byref(out))
                    call.check(rc)
            finally:
                for img, owned in converted:
                    if owned:
                        img.close()
        return cls(out)

    def score(self, image, map=True, mask=False, order="RGB"):
        """An Image, path or uint8 ndarray (`order` "RGB" or "BGR") -> Score: .score (the image
        score), .score_max, .decision / .anomalous (with an image threshold), .map (the float32
        height x width anomaly map, unless map=False) and with mask=True .mask (uint8 height x
        width, 1 = defect; needs a pixel threshold, else ReconpatchError RP_E_STATE)."""
        img, owned = as_image(image, order)
        try:
            with self._use() as p, img._use() as ip:
                shape = (_lib.lib.rp_image_height(ip), _lib.lib.rp_image_width(ip))
                r = new_result()
                m = np.empty(shape, np.float32) if map else None
                k = np.empty(shape, np.uint8) if mask else None
                check(_lib.lib.rp_score_image(p, ip, ctypes.byref(r), fptr(m), 0 if m is None else m.size,
                                              u8ptr(k), 0 if k is None else k.size))
            return Score(r, map=m, mask=k)
        finally:
            if owned:
                img.close()

    def score_many(self, images, map=True, order="RGB"):
        """Several images (Images, paths or uint8 arrays) in one call (rp_score_images: the backbone
        over up to 8 at a time) -> a list of Score, as score() gives them (no masks)."""
        with contextlib.ExitStack() as stack:
            imgs = []
            for image in images:
                img, owned = as_image(image, order)
                if owned:
                    stack.callback(img.close)
                imgs.append(img)
            handles = [stack.enter_context(img._use()) for img in imgs]
            n = len(handles)
            shapes = [(_lib.lib.rp_image_height(h), _lib.lib.rp_image_width(h)) for h in handles]
            results = (S.ScoreResult * n)()
            for r in results:
                r.struct_size = ctypes.sizeof(S.ScoreResult)
            maps = [np.empty(s, np.float32) for s in shapes] if map else None
            map_ptrs = (ctypes.POINTER(ctypes.c_float) * n)(*[fptr(m) for m in maps]) if map else None
            floats = (ctypes.c_size_t * n)(*[m.size for m in maps]) if map else None
            with self._use() as p:
                check(_lib.lib.rp_score_images(p, (ctypes.POINTER(_lib.rp_image) * n)(*handles), n, results,
                                               map_ptrs, floats))
            return [Score(results[i], map=maps[i] if map else None, mask=None) for i in range(n)]

    def add_normals(self, name, images, bank=None, batch_size=0, calibration_fraction=0.0, calibration_quantile=0.0,
                    progress=None, heads="auto", trainer=None):
        """Add a product to a model trained with categories=..., leaving what it holds as trained:
        its own bank (bank: rp_bank_params fields) and, with calibration_fraction, thresholds.
        images as for train (a folder, paths, Images or RGB arrays). heads (models with a head):
        "per-category" (a head fitted on these images alone, with trainer: rp_trainer_params
        fields), "shared" (through the model's frozen head), "none" (the bank holds the
        backbone's features) or "auto" (as the model was trained: its own head unless the model's
        categories share one). Needs exclusive use."""
        if isinstance(images, (str, bytes, os.PathLike)) and os.path.isdir(images):
            images = list_images(images)
        images = list(images)
        bp = make_params(S.BankParams, "rp_bank_params_init", bank) if bank is not None else None
        tp = make_params(S.TrainerParams, "rp_trainer_params_init", trainer) if trainer is not None else None
        p = make_params(S.TrainParams, "rp_train_params_init", batch_size=batch_size,
                        calibration_fraction=calibration_fraction, calibration_quantile=calibration_quantile)
        p.bank = ctypes.pointer(bp) if bp is not None else None
        p.trainer = ctypes.pointer(tp) if tp is not None else None
        p.heads = _heads_code(heads)
        call = ProgressCall(progress)
        with self._use() as m:
            if all(isinstance(x, (str, bytes, os.PathLike)) for x in images):
                paths = (ctypes.c_char_p * max(len(images), 1))(*[os.fsencode(x) for x in images])
                call.check(_lib.lib.rp_model_add_normals(m, name.encode(), paths, len(images), ctypes.byref(p),
                                                         call.cfunc, None))
                return
            converted = [as_image(x) for x in images]
            try:
                with Uses([img for img, _ in converted]) as ptrs:
                    arr = (ctypes.POINTER(_lib.rp_image) * max(len(ptrs), 1))(*ptrs)
                    call.check(_lib.lib.rp_model_add_normal_images(m, name.encode(), arr, len(ptrs), ctypes.byref(p),
                                                                   call.cfunc, None))
            finally:
                for img, owned in converted:
                    if owned:
                        img.close()

    @property
    def categories(self):
        """The category names (one "" for a model of one product); Score.category indexes them."""
        with self._use() as p:
            n = _lib.lib.rp_model_category_count(p)
            return [_lib.lib.rp_model_category_name(p, i).decode() for i in range(n)]

    def category_thresholds(self, category):
        """ModelThresholds of one category (see thresholds)."""
        t = S.ModelThresholds()
        t.struct_size = ctypes.sizeof(t)
        with self._use() as p:
            check(_lib.lib.rp_model_get_category_thresholds(p, category, ctypes.byref(t), ctypes.sizeof(t)))
        return t

    # ---- thresholds ----------------------------------------------------------------------

    @property
    def thresholds(self):
        """ModelThresholds: rule (THRESHOLD_RULE_*), image_threshold, pixel_threshold (NaN = none),
        quantile, f1, calibration_images."""
        t = S.ModelThresholds()
        t.struct_size = ctypes.sizeof(t)
        with self._use() as p:
            check(_lib.lib.rp_model_get_thresholds(p, ctypes.byref(t), ctypes.sizeof(t)))
        return t

    def set_thresholds(self, image=math.nan, pixel=math.nan):
        """Set the thresholds by hand (NaN removes one). Needs exclusive use of the model."""
        t = S.ModelThresholds()
        t.struct_size = ctypes.sizeof(t)
        t.image_threshold = image
        t.pixel_threshold = pixel
        with self._use() as p:
            check(_lib.lib.rp_model_set_thresholds(p, ctypes.byref(t)))

    def calibrate(self, images, labels=None, quantile=0.0, progress=None):
        """Thresholds from held-out images: normal images only (labels None: the conformal quantile
        rule), or labelled ones (labels 0/1, at least one of each: the F1-optimal image threshold).
        quantile 0 = 0.99. Needs exclusive use of the model."""
        params = make_params(S.CalibrationParams, "rp_calibration_params_init", quantile=quantile)
        call = ProgressCall(progress)
        converted = [as_image(x) for x in images]
        try:
            with self._use() as p, Uses([img for img, _ in converted]) as ptrs:
                arr = (ctypes.POINTER(_lib.rp_image) * max(len(ptrs), 1))(*ptrs)
                if labels is None:
                    rc = _lib.lib.rp_model_calibrate(p, arr, len(ptrs), ctypes.byref(params), call.cfunc, None)
                else:
                    lab = np.ascontiguousarray(labels, dtype=np.uint8)
                    if lab.shape != (len(ptrs),):
                        raise ValueError("Model.calibrate: %d images but labels of shape %s"
                                         % (len(ptrs), lab.shape))
                    rc = _lib.lib.rp_model_calibrate_labelled(p, arr, u8ptr(lab), len(ptrs),
                                                              ctypes.byref(params), call.cfunc, None)
                call.check(rc)
        finally:
            for img, owned in converted:
                if owned:
                    img.close()

    # ---- the model file ------------------------------------------------------------------

    def save(self, path, embed_weights=False, weights_path=None):
        """Write the model to path (atomically). embed_weights=True puts the backbone weights inside
        the file; otherwise the file names them (weights_path: the path to record)."""
        _need("rp_model_save")
        params = make_params(S.ModelSaveParams, "rp_model_save_params_init",
                             embed_weights=1 if embed_weights else 0, weights_path=weights_path)
        with self._use() as p:
            check(_lib.lib.rp_model_save(p, os.fsencode(path), ctypes.byref(params)))

    @classmethod
    def load(cls, path, num_threads=0, weights_path=None, max_bytes=0, precision=0):
        """Read a model file (ReconpatchError RP_E_FORMAT when damaged, RP_E_VERSION when newer).
        precision: PRECISION_FP32 / _BF16 / _AUTO to score in another precision than trained."""
        _need("rp_model_load")
        params = make_params(S.ModelLoadParams, "rp_model_load_params_init", num_threads=num_threads,
                             weights_path=weights_path, max_bytes=max_bytes, precision=int(precision))
        out = new_handle_ptr(_lib.rp_model)
        check(_lib.lib.rp_model_load(os.fsencode(path), ctypes.byref(params), ctypes.byref(out)))
        return cls(out)

    @classmethod
    def from_bytes(cls, data, num_threads=0, weights_path=None, max_bytes=0, precision=0):
        """A model from the bytes of a model file (precision as for load)."""
        _need("rp_model_load_memory")
        buf = bytes(data)
        params = make_params(S.ModelLoadParams, "rp_model_load_params_init", num_threads=num_threads,
                             weights_path=weights_path, max_bytes=max_bytes, precision=int(precision))
        out = new_handle_ptr(_lib.rp_model)
        check(_lib.lib.rp_model_load_memory(buf, len(buf), ctypes.byref(params), ctypes.byref(out)))
        return cls(out)

    @property
    def method(self):
        """"reconpatch" or "patchcore"."""
        with self._use() as p:
            code = _lib.lib.rp_model_method(p)
        return {v: k for k, v in _METHODS.items()}.get(code, code)

    @property
    def memory(self):
        """Bytes the model holds, by part (rp_model_get_memory): a dict with backbone_weights,
        backbone_activations, heads, banks, router and total."""
        m = S.ModelMemory()
        m.struct_size = ctypes.sizeof(m)
        with self._use() as p:
            check(_lib.lib.rp_model_get_memory(p, ctypes.byref(m), ctypes.sizeof(m)))
        return {name: getattr(m, name) for name, _ in S.ModelMemory._fields_[2:]}

    def _part(self, getter, cls):
        with self._use() as p:
            ptr = getattr(_lib.lib, getter)(p)
            if not ptr:
                return None
            return cls._view(ptr, self)

    @property
    def extractor(self):
        """The model's Extractor (a view: keeps the model alive; closing it does not free it)."""
        return self._part("rp_model_extractor", Extractor)

    @property
    def bank(self):
        return self._part("rp_model_bank", Bank)

    @property
    def scorer(self):
        return self._part("rp_model_scorer", Scorer)

    @property
    def embedding(self):
        """The learned f, None for PatchCore."""
        with self._use() as p:
            ptr = _lib.lib.rp_model_embedding(p)
            return Embedding._adopt(ptr, owners=(self,), owned=False) if ptr else None

    def __repr__(self):
        return "Model(closed)" if self.closed else "Model(method=%r)" % (self.method,)

