"""Small helpers shared by the classes: params structs from keyword arguments, numpy <-> C pointers."""
import ctypes
import os

import numpy as np

from . import _lib
from .errors import check


def make_params(struct_cls, init_name, given=None, **kwargs):
    """A params struct filled with the library defaults (rp_x_params_init), then given (a struct of
    this type, a dict, or None) and kwargs on top. Unknown names raise TypeError; strings and paths
    go to const char * fields as bytes (the struct keeps them alive)."""
    p = struct_cls()
    check(getattr(_lib.lib, init_name)(ctypes.byref(p), ctypes.sizeof(p)))
    if isinstance(given, struct_cls):
        ctypes.memmove(ctypes.byref(p), ctypes.byref(given), ctypes.sizeof(p))
        p.struct_size = ctypes.sizeof(p)
        given = None
    values = dict(given or {})
    values.update(kwargs)
    names = {name: ctype for name, ctype in struct_cls._fields_}
    for name, value in values.items():
        if name not in names or name == "struct_size" or name.startswith("reserved"):
            raise TypeError("%s has no field %r (fields: %s)" % (
                struct_cls._c_name_, name, ", ".join(n for n in names if n != "struct_size")))
        if value is None:
            continue
        if names[name] is ctypes.c_char_p and not isinstance(value, bytes):
            value = os.fsencode(value)
        setattr(p, name, value)
    return p


def floats(array, name, ndim=None):
    """array as a C-contiguous float32 ndarray (a copy only when needed)."""
    a = np.ascontiguousarray(array, dtype=np.float32)
    if ndim is not None and a.ndim != ndim:
        raise ValueError("%s must have %d dimensions, got shape %s" % (name, ndim, a.shape))
    return a


def fptr(a):
    """float * into a float32 ndarray (or NULL for None)."""
    return None if a is None else a.ctypes.data_as(_lib.c_float_p)


def u8ptr(a):
    return None if a is None else a.ctypes.data_as(_lib.c_uint8_p)
