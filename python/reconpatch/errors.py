"""ReconpatchError, its subclasses, and the RP_E_* codes.

The library keeps the last failure's code and message per OS thread. ctypes runs a call on the
calling Python thread, so reading rp_last_error_code / rp_last_error_message right after a failing
call, before any other rp_* call on this thread, gives that call's error.

Every failure raises a subclass of ReconpatchError chosen by its code, and each subclass is also
the built-in exception a Python caller would expect: a bad argument or a wrong shape is a
ValueError, an allocation failure a MemoryError, a file that cannot be read an OSError, and so on.
So `except ValueError` catches a wrong-shaped array whether NumPy or the library noticed it.
"""
from enum import IntEnum
from typing import Dict, Optional, Type

from ._lib import lib


class ErrorCode(IntEnum):
    """The RP_E_* codes (core.h): append-only, never renumbered."""
    OK = 0
    INVALID_ARG = -1
    NOMEM = -2
    IO = -3
    FORMAT = -4
    VERSION = -5
    UNSUPPORTED = -6
    LIMIT = -7
    STATE = -8
    CANCELLED = -9
    BACKEND = -10
    SHAPE = -11
    INTERNAL = -12
    DIVERGED = -13


# The flat names of earlier releases, kept: errors.E_SHAPE is ErrorCode.SHAPE.
OK = ErrorCode.OK
E_INVALID_ARG = ErrorCode.INVALID_ARG
E_NOMEM = ErrorCode.NOMEM
E_IO = ErrorCode.IO
E_FORMAT = ErrorCode.FORMAT
E_VERSION = ErrorCode.VERSION
E_UNSUPPORTED = ErrorCode.UNSUPPORTED
E_LIMIT = ErrorCode.LIMIT
E_STATE = ErrorCode.STATE
E_CANCELLED = ErrorCode.CANCELLED
E_BACKEND = ErrorCode.BACKEND
E_SHAPE = ErrorCode.SHAPE
E_INTERNAL = ErrorCode.INTERNAL
E_DIVERGED = ErrorCode.DIVERGED


def error_name(code: int) -> str:
    """"RP_E_FORMAT" for -4; "RP_E_UNKNOWN" for codes the library does not know."""
    return lib.rp_error_name(int(code)).decode()


class ReconpatchError(Exception):
    """A libreconpatch call failed. The base of every error the binding raises.

    code     the RP_E_* code (negative int, an ErrorCode when known), e.g. ErrorCode.SHAPE
    name     its constant name, e.g. "RP_E_SHAPE"
    message  the library's message naming the function and the values involved
    """

    def __init__(self, code: int, message: str, name: Optional[str] = None):
        try:
            self.code = ErrorCode(int(code))
        except ValueError:  # a code from a newer library
            self.code = int(code)
        self.name = name if name is not None else error_name(code)
        self.message = message
        text = "%s (%d): %s" % (self.name, int(self.code), message)
        # OSError reads a two-argument form as (errno, strerror): give every base one argument.
        Exception.__init__(self, text)

    def __str__(self) -> str:
        return self.args[0]


class InvalidArgumentError(ReconpatchError, ValueError):
    """RP_E_INVALID_ARG: a NULL, zero or out-of-range argument."""


class OutOfMemoryError(ReconpatchError, MemoryError):
    """RP_E_NOMEM: an allocation failed."""


class ReconpatchIOError(ReconpatchError, OSError):
    """RP_E_IO: a file could not be opened, read or written."""


class FormatError(ReconpatchError, ValueError):
    """RP_E_FORMAT: damaged or unrecognised data."""


class VersionError(ReconpatchError, ValueError):
    """RP_E_VERSION: a newer file format, or params this library does not know."""


class UnsupportedError(ReconpatchError, NotImplementedError):
    """RP_E_UNSUPPORTED: well-formed but not supported here (an architecture, bf16 on this CPU)."""


class LimitError(ReconpatchError, ValueError):
    """RP_E_LIMIT: over a configured limit (an image's pixel count)."""


class StateError(ReconpatchError, RuntimeError):
    """RP_E_STATE: the object is not in the state the call needs (a bank not frozen)."""


class CancelledError(ReconpatchError):
    """RP_E_CANCELLED: a progress callback asked to stop."""


class BackendError(ReconpatchError, RuntimeError):
    """RP_E_BACKEND: oneDNN or BLAS reported a failure."""


class ShapeError(ReconpatchError, ValueError):
    """RP_E_SHAPE: an array or buffer has the wrong shape or size, or two objects disagree
    (architecture, geometry, dimension)."""


class InternalError(ReconpatchError, RuntimeError):
    """RP_E_INTERNAL: a bug in the library."""


class DivergedError(ReconpatchError, ArithmeticError):
    """RP_E_DIVERGED: training diverged (the loss became NaN or infinite): lower the learning rate."""


_BY_CODE: Dict[int, Type[ReconpatchError]] = {
    ErrorCode.INVALID_ARG: InvalidArgumentError,
    ErrorCode.NOMEM: OutOfMemoryError,
    ErrorCode.IO: ReconpatchIOError,
    ErrorCode.FORMAT: FormatError,
    ErrorCode.VERSION: VersionError,
    ErrorCode.UNSUPPORTED: UnsupportedError,
    ErrorCode.LIMIT: LimitError,
    ErrorCode.STATE: StateError,
    ErrorCode.CANCELLED: CancelledError,
    ErrorCode.BACKEND: BackendError,
    ErrorCode.SHAPE: ShapeError,
    ErrorCode.INTERNAL: InternalError,
    ErrorCode.DIVERGED: DivergedError,
}


def error_for(code: int, message: str) -> ReconpatchError:
    """The ReconpatchError subclass instance for code (the base class for unknown codes)."""
    return _BY_CODE.get(int(code), ReconpatchError)(code, message)


def last_error() -> ReconpatchError:
    """The ReconpatchError of the last failing call on this thread."""
    code = lib.rp_last_error_code()
    message = (lib.rp_last_error_message() or b"").decode("utf-8", "replace")
    return error_for(code, message)


def check(rc: int) -> int:
    """Raise the thread's last error when rc (the return of an rp_* call) is non-zero."""
    if rc != 0:
        err = last_error()
        if err.code != rc:
            # The library returned rc but recorded another code (should not happen): trust rc.
            err = error_for(rc, err.message)
        raise err
    return rc
