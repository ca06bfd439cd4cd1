"""Embedding (the learned representation layer f) and Trainer (ReConPatch training of f)."""
import ctypes
import math

import numpy as np

from . import _lib
from . import _structs as S
from ._handle import Handle, new_handle_ptr
from ._progress import ProgressCall
from ._util import floats, fptr, make_params
from .errors import check

DEFAULT_SEED = 0x7EC0A7C4


class Embedding(Handle):
    """Embedding(weight, bias=None): the linear map out = in @ weight.T + bias.

    weight is out_dim x in_dim (PyTorch nn.Linear layout), bias out_dim values (None = zero).
    Immutable: apply() may run from several threads.
    """

    _free_name = "rp_embedding_free"

    def __init__(self, weight, bias=None):
        w = floats(weight, "weight", ndim=2)
        b = None if bias is None else floats(bias, "bias", ndim=1)
        if b is not None and b.shape[0] != w.shape[0]:
            raise ValueError("Embedding: bias has %d values, weight %d rows" % (b.shape[0], w.shape[0]))
        out = new_handle_ptr(_lib.rp_embedding)
        check(_lib.lib.rp_embedding_create(w.shape[1], w.shape[0], fptr(w), fptr(b), ctypes.byref(out)))
        self._init_handle(out)

    @classmethod
    def _adopt(cls, ptr, owners=(), owned=True):
        self = cls.__new__(cls)
        self._init_handle(ptr, owners=owners, owned=owned)
        return self

    @property
    def in_dim(self):
        with self._use() as p:
            return _lib.lib.rp_embedding_in_dim(p)

    @property
    def out_dim(self):
        with self._use() as p:
            return _lib.lib.rp_embedding_out_dim(p)

    def apply(self, x):
        """count x in_dim (or one in_dim vector) -> count x out_dim float32."""
        a = floats(x, "x")
        one = a.ndim == 1
        if one:
            a = a[None]
        if a.ndim != 2 or a.shape[1] != self.in_dim:
            raise ValueError("Embedding.apply: expected count x %d, got shape %s" % (self.in_dim, a.shape))
        out = np.empty((a.shape[0], self.out_dim), np.float32)
        with self._use() as p:
            check(_lib.lib.rp_embedding_apply(p, fptr(a), a.shape[0], fptr(out), out.size))
        return out[0] if one else out

    @property
    def weight(self):
        """A copy of the weight, out_dim x in_dim."""
        w = np.empty((self.out_dim, self.in_dim), np.float32)
        with self._use() as p:
            check(_lib.lib.rp_embedding_get(p, fptr(w), w.size, None, 0))
        return w

    @property
    def bias(self):
        b = np.empty(self.out_dim, np.float32)
        with self._use() as p:
            check(_lib.lib.rp_embedding_get(p, None, 0, fptr(b), b.size))
        return b

    def __repr__(self):
        if self.closed:
            return "Embedding(closed)"
        return "Embedding(in_dim=%d, out_dim=%d)" % (self.in_dim, self.out_dim)


class Trainer(Handle):
    """Trainer(params=None, **fields): learns f with ReConPatch's relaxed contrastive loss.

    fields are rp_trainer_params fields (repr_dim, epochs, batch_size, seed, lr, ...). Add each
    training image's patch features, train(), then embedding(). Needs exclusive use.
    """

    _free_name = "rp_trainer_free"

    def __init__(self, params=None, **fields):
        p = make_params(S.TrainerParams, "rp_trainer_params_init", params, **fields)
        out = new_handle_ptr(_lib.rp_trainer)
        check(_lib.lib.rp_trainer_create(ctypes.byref(p), ctypes.byref(out)))
        self._init_handle(out)

    def add_image_features(self, features):
        """One image's patch features, patches x dim (e.g. one block of Extractor.patch_features)."""
        f = floats(features, "features", ndim=2)
        with self._use() as p:
            check(_lib.lib.rp_trainer_add_image_features(p, fptr(f), f.shape[0], f.shape[1]))

    @property
    def image_count(self):
        with self._use() as p:
            return _lib.lib.rp_trainer_image_count(p)

    @property
    def patch_count(self):
        with self._use() as p:
            return _lib.lib.rp_trainer_patch_count(p)

    def train(self, progress=None):
        """Train from a seeded initialisation. progress(ProgressInfo) is called after every step;
        returning True (or raising) cancels with RP_E_CANCELLED."""
        call = ProgressCall(progress)
        with self._use() as p:
            rc = _lib.lib.rp_trainer_train(p, call.cfunc, None)
            call.check(rc)

    def embedding(self):
        """A new Embedding holding the trained f (owned by the caller, independent of the trainer)."""
        out = new_handle_ptr(_lib.rp_embedding)
        with self._use() as p:
            check(_lib.lib.rp_trainer_get_embedding(p, ctypes.byref(out)))
        return Embedding._adopt(out)

    def history(self):
        """(train_loss, val_loss, best_epoch): per-epoch float64 arrays of the last training and the
        epoch whose f is exported."""
        epochs = ctypes.c_uint32()
        best = ctypes.c_int32()
        with self._use() as p:
            check(_lib.lib.rp_trainer_get_history(p, None, None, 0, ctypes.byref(epochs), None))
            n = epochs.value
            tl = np.full(n, math.nan)
            vl = np.full(n, math.nan)
            check(_lib.lib.rp_trainer_get_history(p, tl.ctypes.data_as(_lib.c_double_p),
                                                  vl.ctypes.data_as(_lib.c_double_p), n,
                                                  ctypes.byref(epochs), ctypes.byref(best)))
        return tl, vl, best.value
