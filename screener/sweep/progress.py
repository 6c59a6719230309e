"""Progress of a sweep on stderr: a progress bar on a terminal, a line every few seconds when
piped (and one at the end), so a long sweep in a log still says how far it got."""

from __future__ import annotations

import sys
import time

#: seconds between progress lines when stderr is not a terminal
LINE_EVERY = 5.0


class Progress:
    def __init__(self, total: int, what: str = "variants", stream=None, tty: bool | None = None,
                 every: float = LINE_EVERY):
        self.total, self.what, self.done = total, what, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = every
        self.started = self.last = time.monotonic()
        self._bar = None
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

            self._bar = Bar(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn(what),
                            TimeElapsedColumn(), console=Console(file=self.stream), transient=True)
            self._task = self._bar.add_task("sweep", total=total)
            self._bar.start()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif now - self.last >= self.every or self.done == self.total:
            self.last = now
            pct = 100 * self.done / self.total if self.total else 100
            print(f"sweep: {self.done}/{self.total} {self.what} done ({pct:.0f}%), {now - self.started:.0f} s",
                  file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
