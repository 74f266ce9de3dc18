"""Progress bars: tqdm where it is installed, plain lines where it is not (a bare GPU machine)."""

from __future__ import annotations

import sys
import time


class LineProgress:
    """The part of tqdm's interface worldsim uses, printing one line at most every ``every`` seconds."""

    def __init__(self, total: int, initial: int = 0, unit: str = "it", desc: str = "", disable: bool = False,
                 every: float = 10.0):
        self.total, self.n, self.unit, self.desc, self.disable, self.every = total, initial, unit, desc, disable, every
        self._postfix, self._last = "", 0.0

    def update(self, n: int = 1) -> None:
        self.n += n
        if not self.disable and (time.monotonic() - self._last > self.every or self.n >= self.total):
            self._last = time.monotonic()
            print(f"{self.desc}: {self.n}/{self.total} {self.unit} {self._postfix}", file=sys.stderr, flush=True)

    def set_postfix(self, **values) -> None:
        self._postfix = " ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        pass


def progress_bar(total: int, initial: int = 0, unit: str = "it", desc: str = "", disable: bool = False):
    """A tqdm bar, or a :class:`LineProgress` when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return LineProgress(total, initial, unit, desc, disable)
    return tqdm(total=total, initial=initial, unit=unit, desc=desc, disable=disable)
