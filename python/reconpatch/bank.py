"""Bank: the memory bank of normal patch features, its coreset and kNN search (rp_bank)."""
import ctypes
from typing import Any, Dict, Union

import numpy as np

from . import _lib
from . import _structs as S
from ._handle import Handle, new_handle_ptr
from ._progress import ProgressCall
from ._util import floats, fptr, make_params
from .errors import check

DEFAULT_SEED = 0x5EEDC0DE5EEDC0DE


class Bank(Handle):
    """Bank(dim, params=None, **fields): an empty bank of dim-long vectors.

    fields are rp_bank_params fields: coreset_ratio, coreset_count, projection_dim, num_threads,
    seed, knn_int8, knn_bf16. add() vectors, freeze() to select the coreset, then search(). A frozen bank is
    read-only and may be searched from several threads.
    """

    _free_name = "rp_bank_free"

    def __init__(self, dim: int = 0, params: "Union[S.BankParams, Dict[str, Any], None]" = None,
                 **fields: Any) -> None:
        # dim 0: the first add sets it
        p = make_params(S.BankParams, "rp_bank_params_init", params, dim=dim, **fields)
        out = new_handle_ptr(_lib.rp_bank)
        check(_lib.lib.rp_bank_create(ctypes.byref(p), ctypes.byref(out)))
        self._init_handle(out)

    @classmethod
    def from_vectors(cls, vectors, params=None, **fields):
        """A frozen bank holding exactly these vectors (count x dim), no coreset selection."""
        v = floats(vectors, "vectors", ndim=2)
        p = make_params(S.BankParams, "rp_bank_params_init", params, **fields)
        out = new_handle_ptr(_lib.rp_bank)
        check(_lib.lib.rp_bank_create_frozen(fptr(v), v.shape[0], v.shape[1], ctypes.byref(p),
                                             ctypes.byref(out)))
        self = cls.__new__(cls)
        self._init_handle(out)
        return self

    @classmethod
    def _view(cls, ptr, owner):
        self = cls.__new__(cls)
        self._init_handle(ptr, owners=(owner,), owned=False)
        return self

    def add(self, vectors):
        """Append count x dim vectors (copied). A 1-D array is one vector."""
        v = floats(vectors, "vectors")
        if v.ndim == 1:
            v = v[None]
        if v.ndim != 2:
            raise ValueError("Bank.add: vectors must be count x dim, got shape %s" % (v.shape,))
        with self._use() as p:
            check(_lib.lib.rp_bank_add(p, fptr(v), v.shape[0], v.shape[1]))

    def freeze(self, progress=None):
        """Select the coreset and freeze. progress(ProgressInfo) may return True (or raise) to cancel."""
        call = ProgressCall(progress)
        with self._use() as p:
            rc = _lib.lib.rp_bank_freeze(p, call.cfunc, None)
            call.check(rc)

    @property
    def size(self):
        with self._use() as p:
            return _lib.lib.rp_bank_size(p)

    def __len__(self):
        return self.size

    @property
    def dim(self):
        with self._use() as p:
            return _lib.lib.rp_bank_dim(p)

    @property
    def frozen(self):
        with self._use() as p:
            return bool(_lib.lib.rp_bank_is_frozen(p))

    def vectors(self):
        """A copy of the vectors, float32 size x dim."""
        with self._use() as p:
            out = np.empty((_lib.lib.rp_bank_size(p), _lib.lib.rp_bank_dim(p)), np.float32)
            check(_lib.lib.rp_bank_get_vectors(p, fptr(out), out.size))
        return out

    def selection(self):
        """Indices (uint64) of the added vectors the coreset kept, in the order they were picked."""
        with self._use() as p:
            out = np.empty(_lib.lib.rp_bank_size(p), np.uint64)
            check(_lib.lib.rp_bank_get_selection(p, out.ctypes.data_as(_lib.c_uint64_p), out.size))
        return out

    def search(self, queries, k=1):
        """The k nearest bank vectors of each query: (distances float32 count x k, indices uint64
        count x k), ascending Euclidean distance. A 1-D query gives 1 x k."""
        q = floats(queries, "queries")
        if q.ndim == 1:
            q = q[None]
        if q.ndim != 2:
            raise ValueError("Bank.search: queries must be count x dim, got shape %s" % (q.shape,))
        if q.shape[1] != self.dim:
            raise ValueError("Bank.search: queries have dim %d, the bank %d" % (q.shape[1], self.dim))
        k = int(k)
        dist = np.empty((q.shape[0], max(k, 0)), np.float32)
        idx = np.empty((q.shape[0], max(k, 0)), np.uint64)
        with self._use() as p:
            check(_lib.lib.rp_bank_search(p, fptr(q), q.size, q.shape[0], k, fptr(dist), dist.size,
                                          idx.ctypes.data_as(_lib.c_uint64_p), idx.size))
        return dist, idx

    def __repr__(self):
        if self.closed:
            return "Bank(closed)"
        return "Bank(size=%d, dim=%d, frozen=%s)" % (self.size, self.dim, self.frozen)
