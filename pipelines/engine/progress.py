"""Copy progress: rich bars on a terminal, plain log lines elsewhere (CI, cron, Dagster logs)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Protocol

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

log = logging.getLogger("prodlike.progress")


class Reporter(Protocol):
    def start(self, tables: dict[str, int]) -> None: ...
    def advance(self, unit: str, rows: int, nbytes: int) -> None: ...
    def finish(self, table: str) -> None: ...
    def stop(self) -> None: ...


class LineReporter:
    """Logs overall rows, rows/s and ETA at most every `every` seconds, and each finished table."""

    def __init__(self, every: float = 5.0, emit=None):
        self.every, self.emit = every, emit or log.info
        self.lock = threading.Lock()
        self.rows = self.bytes = 0
        self.total_rows = 0
        self.t0 = self.last = time.monotonic()

    def start(self, tables: dict[str, int]) -> None:
        """tables: estimated rows per table (from production's statistics)."""
        self.total_rows = sum(tables.values())
        self.t0 = self.last = time.monotonic()
        self.emit(f"copying {len(tables)} tables, about {self.total_rows:,} rows")

    def advance(self, unit: str, rows: int, nbytes: int) -> None:
        with self.lock:
            self.rows += rows
            self.bytes += nbytes
            now = time.monotonic()
            if now - self.last < self.every:
                return
            self.last = now
            rate = self.rows / max(now - self.t0, 1e-6)
            eta = ""
            if self.total_rows > self.rows:
                eta = f", ETA {(self.total_rows - self.rows) / max(rate, 1):.0f}s"
            self.emit(f"copied {self.rows:,} rows ({self.bytes / 1e6:.1f} MB), {rate:,.0f} rows/s{eta}")

    def finish(self, table: str) -> None:
        return None

    def stop(self) -> None:
        return None


class RichReporter:
    """A rich progress display: one bar per table (rows against production's estimate) and an overall bar."""

    def __init__(self):
        self.progress = Progress(TextColumn("{task.description:<28}"), BarColumn(),
                                 TextColumn("{task.fields[rows]:>12,} rows"), TextColumn("{task.fields[rate]:>9}"),
                                 TimeRemainingColumn(), transient=False)
        self.tasks: dict[str, int] = {}
        self.t0 = time.monotonic()
        self.lock = threading.Lock()

    def start(self, tables: dict[str, int]) -> None:
        """tables: estimated rows per table (from production's statistics)."""
        self.progress.start()
        self.t0 = time.monotonic()
        self.overall = self.progress.add_task("all tables", total=max(sum(tables.values()), 1), rows=0, rate="")
        for t, rows in sorted(tables.items()):
            self.tasks[t] = self.progress.add_task(t, total=max(rows, 1), rows=0, rate="")

    def advance(self, table: str, rows: int, nbytes: int) -> None:
        with self.lock:
            elapsed = max(time.monotonic() - self.t0, 1e-6)
            for task in (self.tasks.get(table), self.overall):
                if task is None:
                    continue
                done = self.progress.tasks[task].fields["rows"] + rows
                self.progress.update(task, advance=rows, rows=done, rate=f"{done / elapsed:,.0f}/s")

    def finish(self, table: str) -> None:
        task = self.tasks.get(table)
        if task is not None:
            self.progress.update(task, completed=self.progress.tasks[task].total)

    def stop(self) -> None:
        self.progress.stop()


_current: Reporter | None = None


def use(reporter: Reporter | None) -> None:
    """Install the reporter the copy step reports to (the CLI sets a rich one on a terminal)."""
    global _current
    _current = reporter


def current(emit=None) -> Reporter:
    """The installed reporter, else plain lines sent to emit (e.g. Dagster's context.log.info)."""
    return _current or LineReporter(emit=emit)


def for_terminal() -> Reporter:
    return RichReporter() if sys.stderr.isatty() else LineReporter()
