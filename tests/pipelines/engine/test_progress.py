"""Copy progress off a terminal (CI, cron, pipes) is plain log lines: no bars, no carriage returns, no colour."""

from __future__ import annotations

import io

from prodlike.pipelines.engine import progress


def test_off_a_terminal_the_reporter_writes_plain_lines(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert isinstance(progress.for_terminal(), progress.LineReporter)


def test_line_reporter_lines_carry_rows_rate_and_eta():
    lines: list[str] = []
    reporter = progress.LineReporter(every=0.0, emit=lines.append)
    reporter.start({"public.orders": 1000, "public.customers": 500})
    reporter.advance("public.orders", 300, 30_000)
    reporter.advance("public.customers", 200, 20_000)
    reporter.finish("public.orders")
    reporter.stop()
    assert lines[0] == "copying 2 tables, about 1,500 rows"
    assert lines[-1].startswith("copied 500 rows (0.1 MB), ") and "rows/s, ETA " in lines[-1]
    assert all("\r" not in line and "\x1b" not in line and "\n" not in line for line in lines)


def test_line_reporter_limits_how_often_it_writes():
    lines: list[str] = []
    reporter = progress.LineReporter(every=3600.0, emit=lines.append)
    reporter.start({"t": 10})
    for _ in range(100):
        reporter.advance("t", 1, 10)
    assert lines == ["copying 1 tables, about 10 rows"]
