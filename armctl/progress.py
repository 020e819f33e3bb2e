"""Live progress of a training run: one updating line in a terminal, a few plain lines otherwise.

In a terminal, tqdm (a dependency: small, pure Python, it handles terminal widths, carriage
returns and cleanup) keeps one line up to date after every step: the share of the budget spent,
the experiment's own summary of the step (loss, ratio to iLQR, function calls ...), the run's
time and an estimate of the time left. When the output is not a terminal (a log file, a pipe,
a test), the same text goes to ``log`` as a plain line at the first step, each time another
tenth of the budget is spent, and at the end: about a dozen lines per run instead of one per step.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

from tqdm import tqdm

from armctl.optim.driver import Status

#: Resolution of the terminal bar (tqdm counts integers).
_TICKS = 1000


def duration(seconds: float) -> str:
    """``75.2`` -> ``'1m15s'``."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class Progress:
    """Reports a run's progress after each step (:meth:`update`) until :meth:`close`.

    ``describe(record) -> str`` summarizes a history row; ``fraction(status)`` is the share of
    the budget spent (0..1), from which the time left is estimated.
    """

    def __init__(
        self,
        name: str,
        describe: Callable[[dict], str],
        fraction: Callable[[Status], float],
        *,
        log: Callable[[str], None] = print,
        stream=None,
        every: float = 0.1,
    ):
        self.name, self.describe, self.fraction, self.log, self.every = name, describe, fraction, log, every
        stream = sys.stderr if stream is None else stream
        self.bar = None
        if stream.isatty():
            # The text goes in the description: tqdm prints it as is (a postfix gets a comma).
            self.bar = tqdm(
                total=_TICKS,
                file=stream,
                desc=name,
                bar_format="{percentage:3.0f}%|{bar:12}| {desc}",
                dynamic_ncols=True,
            )
        self.next_mark, self.pending = 0.0, None

    def _line(self, status: Status) -> tuple[float, str]:
        fraction = self.fraction(status)
        wall = status.wall_time
        left = wall * (1 - fraction) / fraction if fraction > 0 else math.inf
        record = status.history.record(-1)
        return fraction, (
            f"step {status.steps}  {self.describe(record)}  {duration(wall)}  ETA {duration(left)}"
        )

    def update(self, status: Status) -> None:
        fraction, text = self._line(status)
        if self.bar is not None:
            self.bar.set_description_str(f"{self.name}  {text}", refresh=False)
            self.bar.update(round(_TICKS * fraction) - self.bar.n)
        elif fraction >= self.next_mark:
            self.log(f"{self.name} {100 * fraction:3.0f}%  {text}")
            self.next_mark = (math.floor(fraction / self.every + 1e-9) + 1) * self.every
            self.pending = None
        else:
            self.pending = (fraction, text)

    def close(self) -> None:
        """End the line (terminal) or print the last step's line if it was not printed."""
        if self.bar is not None:
            self.bar.close()
        elif self.pending is not None:
            fraction, text = self.pending
            self.log(f"{self.name} {100 * fraction:3.0f}%  {text}")
            self.pending = None
