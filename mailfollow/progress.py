"""A tiny progress display for long scans.

On a terminal it redraws one line: messages done of the total known so far,
the rate and the time left. Anywhere else (a pipe, journald) it writes an INFO
log line at most every ``log_interval`` seconds instead, so logs stay short.

The sync engine only needs the `ProgressSink` protocol: it announces work as
it learns about it (`add_total`) and reports what it finished (`advance`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO

logger = logging.getLogger(__name__)

BAR_WIDTH = 24


class ProgressSink(Protocol):
    def add_total(self, count: int) -> None: ...

    def advance(self, count: int) -> None: ...


def format_duration(seconds: float) -> str:
    """ "42s", "3m05s", "1h02m"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def render_line(
    *, label: str, done: int, total: int, elapsed: float, width: int = BAR_WIDTH
) -> str:
    """One progress line: "[#####.....]  1,200/5,000 messages  850/s  4s left"."""
    rate = done / elapsed if elapsed > 0 else 0.0
    shown_total = max(total, done)
    filled = int(width * done / shown_total) if shown_total else width
    bar = "#" * filled + "." * (width - filled)
    line = f"[{bar}] {done:,}/{shown_total:,} {label}"
    if rate > 0:
        line += f"  {rate:,.0f}/s"
        if shown_total > done:
            line += f"  {format_duration((shown_total - done) / rate)} left"
    return line


class Progress:
    """Counts work done against work announced; draws on a TTY, logs elsewhere."""

    def __init__(
        self,
        *,
        label: str = "messages",
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        log_interval: float = 10.0,
        redraw_interval: float = 0.1,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.log_interval = log_interval
        self.redraw_interval = redraw_interval
        self.total = 0
        self.done = 0
        self._tty = _is_tty(self.stream)
        self._started = clock()
        self._last_output = float("-inf")
        self._drawn = False

    def add_total(self, count: int) -> None:
        self.total += max(0, count)
        self._show()

    def advance(self, count: int) -> None:
        self.done += max(0, count)
        self._show()

    def close(self) -> None:
        """Finish the line (TTY) or log the final count (elsewhere) if anything happened."""
        if self._tty:
            if self._drawn:
                self._draw()
                self.stream.write("\n")
                self.stream.flush()
        elif self.done:
            logger.info("%s", self.line())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def line(self) -> str:
        return render_line(label=self.label, done=self.done, total=self.total, elapsed=self.elapsed)

    @property
    def elapsed(self) -> float:
        return self.clock() - self._started

    def _show(self) -> None:
        now = self.clock()
        interval = self.redraw_interval if self._tty else self.log_interval
        if now - self._last_output < interval:
            return
        self._last_output = now
        if self._tty:
            self._draw()
        elif self.done:
            logger.info("%s", self.line())

    def _draw(self) -> None:
        self.stream.write("\r" + self.line() + "\x1b[K")
        self.stream.flush()
        self._drawn = True


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
