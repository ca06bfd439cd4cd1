"""Progress of `python3 -m reconpatch` on stderr: a bar redrawn in place on a terminal, one line
per finished stage otherwise (logs, CI), as rp-train prints it."""
import sys
import time

WIDTH = 30


class ProgressBar:
    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.stage = None
        self.start = time.monotonic()
        self.last_line = ""

    def __call__(self, info):
        """The progress callback: ProgressInfo in, never cancels."""
        if info.stage != self.stage:
            self._end_stage()
            self.stage, self.start = info.stage, time.monotonic()
        if info.total > 0:
            frac = min(1.0, info.done / info.total)
            detail = "%d/%d" % (info.done, info.total)
        else:
            frac, detail = 0.0, str(info.done)
        if info.epoch >= 0 and info.loss == info.loss:  # the trainer: its epoch and loss
            detail += " epoch %d loss %.4f" % (info.epoch, info.loss)
        filled = int(round(frac * WIDTH))
        self.last_line = "%-8s [%s%s] %3d%% %s" % (info.stage_name, "#" * filled, "." * (WIDTH - filled),
                                                  int(frac * 100), detail)
        if self.tty:
            self.stream.write("\r" + self.last_line + "\x1b[K")
            self.stream.flush()
        return False

    def _end_stage(self):
        if self.stage is None:
            return
        took = " (%.1f s)" % (time.monotonic() - self.start)
        self.stream.write(("\r" + self.last_line + took + "\x1b[K\n") if self.tty else (self.last_line + took + "\n"))
        self.stream.flush()

    def close(self):
        self._end_stage()
        self.stage = None
