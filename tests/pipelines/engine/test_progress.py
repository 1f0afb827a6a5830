"""Copy progress: off a terminal, plain periodic lines (rows, MB, rate, ETA, each table in flight) that come from
a timer, so a slow table never means silence; on a terminal, bars per table with the same numbers."""

from __future__ import annotations

import io
import threading

from prodlike.pipelines.engine import progress


def test_off_a_terminal_the_reporter_writes_plain_lines(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert isinstance(progress.for_terminal(), progress.LineReporter)


def test_line_reporter_lines_carry_rows_bytes_rate_and_eta_per_table():
    lines: list[str] = []
    reporter = progress.LineReporter(every=0, emit=lines.append)  # 0: no timer, lines on demand
    reporter.start({"public.orders": 1000, "public.customers": 500})
    reporter.advance("public.orders", 300, 30_000)
    reporter.advance("public.customers", 200, 2_000_000)
    periodic = reporter.line()
    reporter.finish("public.orders")
    reporter.stop()
    assert lines[0] == "copying 2 tables, about 1,500 rows"
    assert periodic.startswith("copied 500 of about 1,500 rows (2.0 MB), ") and "rows/s, ETA " in periodic
    assert "public.customers 200/~500 (2.0 MB, " in periodic and "public.orders 300/~1,000 (0.0 MB, " in periodic
    assert lines[-1].startswith("public.orders: copied 300 rows (0.0 MB) in ") and lines[-1].endswith(
        "(1 of 2 tables)")
    assert all("\r" not in line and "\x1b" not in line and "\n" not in line for line in [*lines, periodic])


def test_line_reporter_speaks_while_a_table_is_silent():
    """The old reporter wrote only when a batch arrived: a big batch meant long silence."""
    spoke = threading.Event()
    lines: list[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        if line.startswith("copied "):
            spoke.set()

    reporter = progress.LineReporter(every=0.01, emit=emit)
    reporter.start({"public.orders": 1000})
    reporter.advance("public.orders", 10, 100)  # then nothing more arrives
    try:
        assert spoke.wait(60), lines
    finally:
        reporter.stop()
    assert lines[1].startswith("copied 10 of about 1,000 rows")


def test_line_reporter_goes_quiet_once_every_table_is_done():
    reporter = progress.LineReporter(every=0, emit=lambda line: None)
    reporter.start({"t": 10})
    reporter.advance("t", 12, 10)  # past the estimate: the estimate grows, never a negative ETA
    assert "of about 12 rows" in reporter.line()
    reporter.finish("t")
    assert reporter.line() is None


def test_terminal_bars_show_rows_mb_and_rate():
    from rich.console import Console

    out = io.StringIO()
    reporter = progress.RichReporter(console=Console(file=out, width=200))
    reporter.start({"public.orders": 1000})
    reporter.advance("public.orders", 400, 3_000_000)
    reporter.finish("public.orders")
    reporter.stop()
    text = out.getvalue()
    assert "public.orders" in text and "400/" in text and "3.0 MB" in text and "rows/s" in text


def test_the_row_estimate_follows_deletes_before_any_analyze(dbs, monkeypatch):
    """The estimate came from reltuples, which keeps the deleted rows until the next ANALYZE."""
    from prodlike.pipelines.engine.refresh import Refresh
    from tests.conftest import TEST_KEY, make_config

    with dbs.src() as src:
        src.execute("CREATE TABLE items (id int PRIMARY KEY, label text)")
        src.execute("INSERT INTO items SELECT g, 'x' || g FROM generate_series(1, 1000) g")
        src.execute("SELECT pg_stat_force_next_flush()")  # the insert counted before ANALYZE sets its own count
        src.execute("ANALYZE items")
        src.execute("DELETE FROM items WHERE id > 200")
        src.execute("SELECT pg_stat_force_next_flush()")  # flushed when this session goes idle
        src.execute("SELECT 1")
        assert src.execute("SELECT reltuples FROM pg_class WHERE relname = 'items'").fetchone()[0] == 1000
    cfg = make_config(dbs, monkeypatch, {"public.items": "keep"})
    estimates: dict[str, int] = {}
    r = Refresh(cfg, dbs.source, dbs.target, "estimate-run", TEST_KEY, on_start=estimates.update)
    list(r.copy())
    assert estimates == {"public.items": 200}
