"""The report's query-time section: the dot plot around the median ratio, outliers first with both plans, the
median ratio across releases; rendered from the check's own results and loaded in headless Chromium."""

from __future__ import annotations

from datetime import UTC, datetime

from prodlike.pipelines.report import page as report
from prodlike.pipelines.report import query_time as chart
from prodlike.validators import query_time as qt
from prodlike.validators.results import Threshold
from tests.conftest import STATE
from tests.pipelines.report.test_report import chromium  # noqa: F401  (the session's browser)

LEVELS = qt.Levels(Threshold(3.0, None), Threshold(10.0, None), Threshold(0.2, None))


def timing(fp: str, sql: str, prod_ms: float, stage_ms: float, plans: bool = False) -> qt.Timing:
    st = qt.Statement(fp, sql, 20, prod_ms * 20, 20 * prod_ms ** 2, 200, 95, 5)
    t = qt.Timing(st, "timed", staging_ms=stage_ms, staging_rows=10, staging_hit_ratio=0.97, runs=5)
    if plans:
        t.production_plan = ["Node Type=Index Scan Relation Name=events Index Name=events_account_id_idx"]
        t.staging_plan = ["Node Type=Seq Scan Relation Name=events"]
    return t


def query_time_checks() -> list[dict]:
    timings = [timing("aaaa1111", "SELECT id FROM orders WHERE id = $1", 1, 1.2),
               timing("bbbb2222", "SELECT id FROM events WHERE account_id = $1 AND kind <> '<x>'", 1, 40, plans=True),
               timing("cccc3333", "SELECT count(*) FROM customers", 10, 11),
               timing("dddd4444", "SELECT * FROM products WHERE id = $1", 2, 2.5),
               qt.Timing(qt.Statement("eeee5555", "SELECT date_trunc($1, at) FROM events", 5, 5.0, 5.0, 5, 1, 0),
                         "skipped", "parameter $1 is not compared with a column (it is used in DATE_TRUNC($1, at))")]
    return [r.as_dict() for r in qt.judge(timings, LEVELS, "since the previous refresh", previous_median=1.1)]


def a_run(checks: list[dict], status: str = "released") -> dict:
    now = datetime.now(UTC)
    return {"run_id": "r2", "status": status, "started_at": now, "finished_at": now, "snapshot_time": now,
            "tables": {"public.events": {"rows": 10}}, "checks": checks, "error": None}


def test_the_section_shows_outliers_first_with_both_plans():
    page = report.render(a_run(query_time_checks()), [], None, None, datetime.now(UTC))
    section = page[page.index("<h2>Query time"):]
    section = section[:section.index("</section>")]
    assert section.index("bbbb2222") < section.index("aaaa1111")  # the outlier first (dot plot and list)
    assert "median staging/production time ratio" in section and "previous release 1.10" in section
    assert "events_account_id_idx" in section and "Seq Scan" in section  # both plans of the outlier
    assert "DATE_TRUNC($1, at)" in section  # the skipped query says why
    assert "&lt;x&gt;" in section and "<x>" not in section
    assert section.count("<circle") == 4  # one dot per timed query
    attention = page[page.index("What needs attention"):page.index("<h2>Tables")]
    assert "query bbbb2222" in attention


def test_the_dot_plot_places_ratios_on_a_log_axis_around_the_median():
    details = [{"fingerprint": "a", "sql": "q", "ratio": 2.0, "verdict": "pass"},
               {"fingerprint": "b", "sql": "q", "ratio": 200.0, "verdict": "warn"},
               {"fingerprint": "c", "sql": "q", "ratio": None, "verdict": "skipped"}]
    svg = chart.dot_plot_svg(details, 2.0, {"warn": 3.0, "error": None})
    assert svg.count("<circle") == 2 and "(beyond the axis)" in svg and "warn at 3x" in svg
    assert chart.relative(details[0], 2.0) == 1.0
    assert "no query was timed" in chart.dot_plot_svg(details[2:], None, {})


def test_a_skipped_check_and_the_trend_of_the_median_ratio():
    skipped = [r.as_dict() for r in qt.judge([], LEVELS, "", skipped_reason="pg_stat_statements is not installed")]
    page = report.render(a_run(skipped), [], None, None, datetime.now(UTC))
    assert "query time not compared: pg_stat_statements is not installed" in page
    now = datetime.now(UTC)
    trend = [{"id": i, "run_id": f"r{i}", "released_at": now, "snapshot_time": now, "tables": {"public.t": {"rows": 5}},
              "checks": [{"check": "query_time", "statistic": qt.SUMMARY, "staging": ratio}]}
             for i, ratio in ((1, 1.2), (2, 1.4))]
    page = report.render(a_run(query_time_checks()), trend, None, None, now)
    assert "median staging/production query-time ratio" in page


def test_the_section_in_chromium(chromium, tmp_path):  # noqa: F811
    path = tmp_path / "query-time.html"
    path.write_text(report.render(a_run(query_time_checks(), "halted"), [], None, None, datetime.now(UTC)))
    load = chromium.load(path.resolve().as_uri(), STATE / "screenshots" / "report-query-time.png")
    assert load.errors == [], load.errors
    assert load.width <= 1280, f"the query-time section overflows horizontally ({load.width}px)"
