"""ReconpatchError and the RP_E_* codes.

The library keeps the last failure's code and message per OS thread. ctypes runs a call on the
calling Python thread, so reading rp_last_error_code / rp_last_error_message right after a failing
call, before any other rp_* call on this thread, gives that call's error.
"""
from ._lib import lib

OK = 0
E_INVALID_ARG = -1
E_NOMEM = -2
E_IO = -3
E_FORMAT = -4
E_VERSION = -5
E_UNSUPPORTED = -6
E_LIMIT = -7
E_STATE = -8
E_CANCELLED = -9
E_BACKEND = -10
E_SHAPE = -11
E_INTERNAL = -12


def error_name(code):
    """"RP_E_FORMAT" for -4; "RP_E_UNKNOWN" for codes the library does not know."""
    return lib.rp_error_name(int(code)).decode()


class ReconpatchError(Exception):
    """A libreconpatch call failed.

    code     the RP_E_* code (negative int), e.g. errors.E_SHAPE
    name     its constant name, e.g. "RP_E_SHAPE"
    message  the library's message naming the function and the values involved
    """

    def __init__(self, code, message, name=None):
        self.code = int(code)
        self.name = name if name is not None else error_name(code)
        self.message = message
        super().__init__("%s (%d): %s" % (self.name, self.code, message))


def last_error():
    """The ReconpatchError of the last failing call on this thread."""
    code = lib.rp_last_error_code()
    message = (lib.rp_last_error_message() or b"").decode("utf-8", "replace")
    return ReconpatchError(code, message)


def check(rc):
    """Raise the thread's last error when rc (the return of an rp_* call) is non-zero."""
    if rc != 0:
        err = last_error()
        if err.code != rc:
            # The library returned rc but recorded another code (should not happen): trust rc.
            err = ReconpatchError(rc, err.message)
        raise err
    return rc
