"""Progress callbacks: a Python callable behind rp_progress_fn.

The callable gets a ProgressInfo and may return a true value to cancel. If it raises, the exception
is kept, the C call is cancelled (non-zero return) and, once the call has returned, the exception
is re-raised with the library's RP_E_CANCELLED error as its __cause__.
"""
import math
from dataclasses import dataclass
from enum import IntEnum

from . import _lib, errors



class Stage(IntEnum):
    """RP_STAGE_*: the stage a progress report comes from."""
    FEATURES = 1  # extracting patch features from images
    TRAIN = 2     # training the embedding head
    CORESET = 3   # selecting the memory bank's coreset
    SCORE = 4     # scoring images


STAGE_FEATURES = Stage.FEATURES
STAGE_TRAIN = Stage.TRAIN
STAGE_CORESET = Stage.CORESET
STAGE_SCORE = Stage.SCORE
STAGE_NAMES = {STAGE_FEATURES: "features", STAGE_TRAIN: "train", STAGE_CORESET: "coreset",
               STAGE_SCORE: "score"}


@dataclass(frozen=True)
class ProgressInfo:
    stage: int       # STAGE_* (stage_name gives "features", "train", ...)
    done: int        # units done in this stage
    total: int       # units in this stage, -1 if unknown
    epoch: int       # trainer only, else -1
    step: int        # trainer only, else -1
    loss: float      # trainer only, else NaN
    val_loss: float  # trainer only, else NaN

    @property
    def stage_name(self):
        return STAGE_NAMES.get(self.stage, str(self.stage))

    @property
    def fraction(self):
        return self.done / self.total if self.total > 0 else math.nan


class ProgressCall:
    """One C call's callback. Keep the object alive (a local variable) until the call returns."""

    def __init__(self, fn):
        self.fn = fn
        self.error = None
        # A NULL function pointer when there is no callable: the library then skips reporting.
        self.cfunc = _lib.PROGRESS_FN(self._trampoline) if fn is not None else _lib.PROGRESS_FN()

    def _trampoline(self, progress, user_data):
        if self.error is not None:
            return 1
        try:
            p = progress.contents
            info = ProgressInfo(p.stage, p.done, p.total, p.epoch, p.step, p.loss, p.val_loss)
            return 1 if self.fn(info) else 0
        except BaseException as e:  # KeyboardInterrupt too: cancel, then re-raise after the call
            self.error = e
            return 1

    def check(self, rc):
        """After the C call (same thread, no rp_* call in between): raise what is due."""
        if rc != 0:
            err = errors.last_error()
            if self.error is not None:
                raise self.error from err
            raise err
        if self.error is not None:  # raised in the last call, after which the C call still succeeded
            raise self.error
