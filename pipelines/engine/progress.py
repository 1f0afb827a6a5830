"""Copy progress: rich bars on a terminal, plain periodic log lines elsewhere (CI, cron, Dagster logs)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

log = logging.getLogger("prodlike.progress")


class Reporter(Protocol):
    def start(self, tables: dict[str, int]) -> None: ...
    def advance(self, unit: str, rows: int, nbytes: int) -> None: ...
    def finish(self, table: str) -> None: ...
    def stop(self) -> None: ...


@dataclass
class TableProgress:
    """One table's copy so far, against production's row estimate."""

    estimate: int
    rows: int = 0
    nbytes: int = 0
    started: float | None = None
    done: bool = False

    def rate(self, now: float) -> float:
        return self.rows / max(now - self.started, 1e-6) if self.started else 0.0

    def eta(self, now: float) -> float | None:
        """Seconds left at the current rate (None: unknown, or already past the estimate)."""
        rate = self.rate(now)
        return (self.estimate - self.rows) / rate if rate > 0 and self.estimate > self.rows else None


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}s" if value < 120 else f"{value / 60:.1f}m"


class LineReporter:
    """Plain lines: the plan at start, then every `every` seconds (from a timer, so a slow table never means
    silence) the overall rows, MB, rate and ETA with each table in flight; one line per finished table."""

    def __init__(self, every: float = 5.0, emit=None):
        self.every, self.emit = every, emit or log.info
        self.lock = threading.Lock()
        self.tables: dict[str, TableProgress] = {}
        self.t0 = time.monotonic()
        self._stopped = threading.Event()
        self._timer: threading.Thread | None = None

    def start(self, tables: dict[str, int]) -> None:
        """tables: estimated rows per table (production's live-row statistics)."""
        with self.lock:
            self.tables = {t: TableProgress(rows) for t, rows in tables.items()}
            self.t0 = time.monotonic()
        self.emit(f"copying {len(tables)} tables, about {sum(tables.values()):,} rows")
        if self.every > 0:
            self._stopped.set()  # a timer of an earlier run of this reporter ends
            self._stopped = threading.Event()
            self._timer = threading.Thread(target=self._beat, args=(self._stopped,), name="prodlike-progress",
                                           daemon=True)
            self._timer.start()

    def advance(self, unit: str, rows: int, nbytes: int) -> None:
        with self.lock:
            t = self.tables.setdefault(unit, TableProgress(0))
            t.started = t.started or time.monotonic()
            t.rows += rows
            t.nbytes += nbytes

    def finish(self, table: str) -> None:
        now = time.monotonic()
        with self.lock:
            t = self.tables.setdefault(table, TableProgress(0))
            t.done = True
            done = sum(x.done for x in self.tables.values())
            line = (f"{table}: copied {t.rows:,} rows ({t.nbytes / 1e6:.1f} MB) in "
                    f"{_seconds(now - t.started if t.started else 0)}, {t.rate(now):,.0f} rows/s "
                    f"({done} of {len(self.tables)} tables)")
        self.emit(line)

    def line(self) -> str | None:
        """The periodic line (None once every table is done)."""
        now = time.monotonic()
        with self.lock:
            tables = dict(self.tables)
            if not tables or all(t.done for t in tables.values()):
                return None
            rows, nbytes = sum(t.rows for t in tables.values()), sum(t.nbytes for t in tables.values())
            total = sum(max(t.estimate, t.rows) for t in tables.values())
            rate = rows / max(now - self.t0, 1e-6)
            flying = [f"{name} {t.rows:,}/~{t.estimate:,} ({t.nbytes / 1e6:.1f} MB, {t.rate(now):,.0f} rows/s, "
                      f"ETA {_seconds(t.eta(now))})"
                      for name, t in sorted(tables.items()) if t.started and not t.done]
        eta = (total - rows) / rate if rate > 0 and total > rows else None
        return (f"copied {rows:,} of about {total:,} rows ({nbytes / 1e6:.1f} MB), {rate:,.0f} rows/s, "
                f"ETA {_seconds(eta)}" + (f"; in flight: {'; '.join(flying[:4])}" if flying else ""))

    def _beat(self, stopped: threading.Event) -> None:
        while not stopped.wait(self.every):
            text = self.line()
            if text:
                self.emit(text)

    def stop(self) -> None:
        self._stopped.set()


class RichReporter:
    """Rich bars on the terminal's stderr: one per table and one overall, each with rows against production's
    estimate, MB, rows/s and time remaining; redrawn several times a second."""

    def __init__(self, console=None):
        self.progress = Progress(TextColumn("{task.description:<28}"), BarColumn(),
                                 TextColumn("{task.fields[rows]:>12,}/~{task.total:<12,.0f} rows"),
                                 TextColumn("{task.fields[mb]:>8.1f} MB"), TextColumn("{task.fields[rate]:>12}"),
                                 TimeRemainingColumn(), console=console or Console(stderr=True), transient=False)
        self.tasks: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.t0 = time.monotonic()
        self.lock = threading.Lock()

    def start(self, tables: dict[str, int]) -> None:
        """tables: estimated rows per table (production's live-row statistics)."""
        self.progress.start()
        self.t0 = time.monotonic()
        self.overall = self.progress.add_task("all tables", total=max(sum(tables.values()), 1), rows=0, mb=0.0,
                                              rate="")
        for t, rows in sorted(tables.items()):
            self.tasks[t] = self.progress.add_task(t, total=max(rows, 1), rows=0, mb=0.0, rate="")

    def advance(self, table: str, rows: int, nbytes: int) -> None:
        with self.lock:
            now = time.monotonic()
            self.started.setdefault(table, now)
            for task, since in ((self.tasks.get(table), self.started[table]), (self.overall, self.t0)):
                if task is None:
                    continue
                fields = self.progress.tasks[task].fields
                done, mb = fields["rows"] + rows, fields["mb"] + nbytes / 1e6
                total = max(self.progress.tasks[task].total or 1, done)  # an estimate can fall short
                self.progress.update(task, advance=rows, total=total, rows=done, mb=mb,
                                     rate=f"{done / max(now - since, 1e-6):,.0f} rows/s")

    def finish(self, table: str) -> None:
        task = self.tasks.get(table)
        if task is not None:
            self.progress.update(task, total=max(self.progress.tasks[task].fields["rows"], 1),
                                 completed=max(self.progress.tasks[task].fields["rows"], 1))

    def stop(self) -> None:
        self.progress.stop()


_current: Reporter | None = None


def use(reporter: Reporter | None) -> None:
    """Install the reporter the copy step reports to (the CLI sets one for its terminal or log)."""
    global _current
    _current = reporter


def current(emit=None) -> Reporter:
    """The installed reporter, else plain lines sent to emit (e.g. Dagster's context.log.info)."""
    return _current or LineReporter(emit=emit)


def for_terminal() -> Reporter:
    return RichReporter() if sys.stderr.isatty() else LineReporter()
