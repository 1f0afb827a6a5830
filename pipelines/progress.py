"""Copy progress: rich bars on a terminal, plain log lines elsewhere (CI, cron, Dagster logs)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Protocol

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
        self.total_bytes = 0
        self.t0 = self.last = time.monotonic()

    def start(self, tables: dict[str, int]) -> None:
        self.total_bytes = sum(tables.values())
        self.t0 = self.last = time.monotonic()

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
            if self.total_bytes and self.bytes:
                left = max(self.total_bytes - self.bytes, 0) * (now - self.t0) / self.bytes
                eta = f", ETA {left:.0f}s"
            self.emit(f"copied {self.rows:,} rows ({self.bytes / 1e6:.1f} MB), {rate:,.0f} rows/s{eta}")

    def finish(self, table: str) -> None:
        return None

    def stop(self) -> None:
        return None


class RichReporter:
    """A rich progress display: one bar per table (bytes against the catalog estimate) and an overall bar."""

    def __init__(self):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description:<28}"), BarColumn(),
                                 TextColumn("{task.fields[rows]:>12,} rows"), TextColumn("{task.fields[rate]:>9}"),
                                 TimeRemainingColumn(), transient=False)
        self.tasks: dict[str, int] = {}
        self.unit_table: dict[str, str] = {}
        self.t0 = time.monotonic()
        self.lock = threading.Lock()

    def start(self, tables: dict[str, int]) -> None:
        self.progress.start()
        self.t0 = time.monotonic()
        self.overall = self.progress.add_task("all tables", total=max(sum(tables.values()), 1), rows=0, rate="")
        for t, size in tables.items():
            self.tasks[t] = self.progress.add_task(t, total=max(size, 1), rows=0, rate="")

    def map_unit(self, unit: str, table: str) -> None:
        self.unit_table[unit] = table

    def advance(self, unit: str, rows: int, nbytes: int) -> None:
        with self.lock:
            table = self.unit_table.get(unit, unit)
            task = self.tasks.get(table)
            elapsed = max(time.monotonic() - self.t0, 1e-6)
            if task is not None:
                t = self.progress.tasks[task]
                total_rows = t.fields["rows"] + rows
                self.progress.update(task, advance=nbytes, rows=total_rows, rate=f"{total_rows / elapsed:,.0f}/s")
            o = self.progress.tasks[self.overall]
            all_rows = o.fields["rows"] + rows
            self.progress.update(self.overall, advance=nbytes, rows=all_rows, rate=f"{all_rows / elapsed:,.0f}/s")

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


def current() -> Reporter:
    return _current or LineReporter()


def for_terminal() -> Reporter:
    return RichReporter() if sys.stderr.isatty() else LineReporter()
