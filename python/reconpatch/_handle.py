"""Lifetime of C handles, shared by every class of the binding.

Rules this file enforces:
  - close() and __del__ are idempotent and never raise; after close() every method raises ValueError.
  - An object that borrows others (a Scorer borrows its Extractor, Bank and Embedding; a Model's
    .extractor view borrows the Model) holds Python references to them AND a use count on them, so
    the C owner is freed only after every borrower is gone - whatever order close() / the garbage
    collector run in (cycles collected by gc.collect() finalise in arbitrary order).
  - A call in progress also holds a use count: closing a handle another thread is scoring with
    defers the free until that call returns.
"""
import contextlib
import ctypes
import threading

from . import _lib

# One lock for all lifetimes: the counts change rarely (create, close, the start and end of a call).
# Re-entrant because a garbage collection may run a __del__ on a thread that already holds it.
_LOCK = threading.RLock()


class Handle:
    """Base of every wrapper of a C handle."""

    _free_name = None  # the rp_*_free function, e.g. "rp_bank_free"
    # Class-level defaults, so __del__ of an object whose __init__ failed early is harmless.
    _ptr = None
    _owned = False
    _owners = ()
    _uses = 0
    _closing = False

    def _init_handle(self, ptr, owners=(), owned=True):
        """Adopt ptr (freed by close() when owned). owners: handles ptr borrows; the caller must be
        holding a use of each (inside their _use()) so none can be freed before this call."""
        with _LOCK:
            for owner in owners:
                owner._uses += 1
            self._owners = list(owners)
            self._owned = owned
            self._uses = 0
            self._closing = False
            self._ptr = ptr

    @contextlib.contextmanager
    def _use(self):
        """The C pointer, kept alive (not freed by a concurrent close()) for the with block."""
        with _LOCK:
            if not self._ptr or self._closing:
                raise ValueError("%s is closed" % type(self).__name__)
            self._uses += 1
            ptr = self._ptr
        try:
            yield ptr
        finally:
            self._release()

    def _release(self):
        with _LOCK:
            self._uses -= 1
            free_now = self._closing and self._uses == 0
        if free_now:
            self._destroy()

    def _destroy(self):
        with _LOCK:
            ptr, self._ptr = self._ptr, None
            owners, self._owners = self._owners, ()
        if ptr and self._owned:
            getattr(_lib.lib, self._free_name)(ptr)
        for owner in owners:  # after our free: the owners were borrowed until now
            owner._release()

    def close(self):
        """Free the C object (deferred while borrowers or calls still use it). Idempotent."""
        with _LOCK:
            if not self._ptr or self._closing:
                return
            self._closing = True
            free_now = self._uses == 0
        if free_now:
            self._destroy()

    @property
    def closed(self):
        return not self._ptr or self._closing

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: modules may already be torn down
            pass


class Uses:
    """Hold _use() of several handles (None allowed) at once: a list of their pointers."""

    def __init__(self, handles):
        self.handles = handles
        self.ctxs = []

    def __enter__(self):
        ptrs = []
        try:
            for h in self.handles:
                if h is None:  # an optional handle: a NULL pointer
                    ptrs.append(None)
                    continue
                ctx = h._use()
                ptrs.append(ctx.__enter__())
                self.ctxs.append(ctx)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return ptrs

    def __exit__(self, *exc):
        while self.ctxs:
            self.ctxs.pop().__exit__(None, None, None)


def new_handle_ptr(handle_type):
    """An out-parameter for a constructor: a NULL rp_x * to pass by reference."""
    return ctypes.POINTER(handle_type)()
