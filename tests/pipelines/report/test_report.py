"""The parity report: written by `prodlike report` for a released and a halted run of real refreshes, loaded
in headless Chromium from a file URL without console errors, screenshots kept under the test state folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from prodlike.pipelines.report import page as report
from tests.conftest import ROOT
from tests.pipelines.report.headless import Chromium, find_or_install_chromium

# one folder whatever the xdist worker: .prodlike/test/screenshots (or under $PRODLIKE_TEST_STATE)
SCREENSHOTS = Path(os.environ.get("PRODLIKE_TEST_STATE", ROOT / ".prodlike" / "test")) / "screenshots"

def run_cli(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prodlike.pipelines.cli", *args], env={**os.environ, **(env or {})},
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def chromium():
    binary, why = find_or_install_chromium()
    if binary is None:
        pytest.skip(why)
    browser = Chromium(binary)
    yield browser
    browser.close()


def _newest_run(dst) -> str:
    return dst.execute("SELECT run_id FROM prodlike.runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]


def _refresh(path: Path, env: dict, expected: int) -> subprocess.CompletedProcess:
    out = run_cli("refresh", "-c", str(path), env=env)
    assert out.returncode == expected, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def _report(path: Path, env: dict, *run_id: str) -> Path:
    out = run_cli("report", *run_id, "-c", str(path), env=env)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    return Path(out.stdout.split("parity report:", 1)[1].strip())


def test_report_of_a_released_and_a_halted_run_in_chromium(demo_env, demo_dbs, chromium):
    path, env, reports = demo_env
    first = _refresh(path, env, 0)
    ours = [ln for ln in first.stderr.split("\n") if " INFO cop" in ln]  # progress through a pipe: plain lines
    assert any("copying 7 tables, about" in ln for ln in ours)
    assert not any("\r" in ln or "\x1b[" in ln for ln in ours)
    with demo_dbs.src() as src:  # a small, legitimate change: the second release shows it in the trend
        src.execute("DELETE FROM support_tickets WHERE id % 20 = 0")
    _refresh(path, env, 0)
    with demo_dbs.dst() as dst:
        released = _newest_run(dst)
        # staging's planner is now configured unlike production's: infrastructure errors, plans differ
        dst.execute(f'ALTER DATABASE "{demo_dbs.target_db}" SET random_page_cost = 40')
        dst.execute(f'ALTER DATABASE "{demo_dbs.target_db}" SET enable_indexscan = off')
    # and the city column is held to its value lengths, which the city transformer changes: a column whose
    # distribution diverges (a warning, so that the run reaches its run-level checks)
    cfg = yaml.safe_load(path.read_text())
    cfg["thresholds"] = {"tables": {"public.addresses": {"columns": {"city": {"lengths": {"warn": 0.1}}}}}}
    path.write_text(yaml.safe_dump(cfg))
    _refresh(path, env, 2)
    with demo_dbs.dst() as dst:
        halted = _newest_run(dst)
    with demo_dbs.src() as src:
        emails = [r[0] for r in src.execute("SELECT email FROM customers LIMIT 50")]

    halted_page = _report(path, env)  # no RUN_ID: the newest run
    released_page = _report(path, env, released)
    assert halted_page == reports / f"{halted}.html" and released_page == reports / f"{released}.html"
    assert (reports / "latest.html").read_text() == released_page.read_text()
    with demo_dbs.dst() as dst:  # the release asset links the report its run writes when it concludes
        assert dst.execute("SELECT count(*) FROM prodlike.runs").fetchone()[0] == 3
    assert all((reports / f"{run}.html").exists() for run in (released, halted))

    released_html, halted_html = released_page.read_text(), halted_page.read_text()
    assert '<div class="big">released' in released_html
    assert '<div class="big">halted</div>' in halted_html
    assert "random_page_cost" in halted_html and "enable_indexscan" in halted_html
    command = re.search(r"prodlike resume --note &quot;WHY&quot;( --accept [a-z_:.]+)+", halted_html)
    assert command and " --accept infrastructure" in command.group(0)  # the exact command, every failing check
    assert "different-shape" in halted_html or "different-index" in halted_html
    assert '<div class="pl hl"' in halted_html  # differing plan nodes highlighted
    first_card = halted_html.index('<div class="card ')
    assert halted_html.index("public.addresses.city", first_card) < halted_html.index("column(s) within their")
    assert '<div class="card warn">' in halted_html  # the diverging column, shown before the passing ones
    assert "<svg" in released_html and "column(s) within their thresholds" in released_html
    cards = {c.split("<b>", 1)[1].split("</b>", 1)[0]: c for c in released_html.split('<div class="card ')[1:]}
    headline = {where: card.split("<dt>statistic</dt><dd>", 1)[1].split("<", 1)[0] for where, card in cards.items()}
    assert headline["public.customers.email"] == "format_share"  # the judged statistic, not null_fraction 0
    assert headline["public.orders.total"] in ("psi", "ks") and len(set(headline.values())) >= 3
    assert "format ipv4" in cards["public.customers.signup_ip"]  # an IP is not 'format phone'
    assert "format digits" in cards["public.addresses.postcode"] and "format phone" in cards["public.customers.phone"]
    assert "format phone" not in cards["public.customers.signup_ip"] + cards["public.addresses.postcode"]
    assert "value lengths" not in cards["public.products.price"]  # a keep numeric (domain) column: its values
    assert "rows copied (all tables) <span class=\"change\">(" in released_html  # the change, in numbers
    assert "<script" not in halted_html and "http://" not in halted_html and "https://" not in halted_html
    for email in emails:
        assert email not in halted_html and email not in released_html

    for name, page in (("released", released_page), ("halted", halted_page)):
        load = chromium.load(page.resolve().as_uri(), SCREENSHOTS / f"report-{name}.png")
        assert load.errors == [], load.errors
        assert load.width <= 1280, f"the {name} report overflows horizontally ({load.width}px)"
        assert load.screenshot.stat().st_size > 10_000
        overlaps = chromium.call("Runtime.evaluate", session=True, expression=OVERLAPPING_LABELS,
                                 returnByValue=True)["result"]["value"]
        assert overlaps == [], f"labels overlap in the {name} report: {overlaps[:5]}"


# every pair of visible text labels inside one plot whose boxes intersect (more than a pixel each way)
OVERLAPPING_LABELS = """
(() => {
  const out = [];
  for (const svg of document.querySelectorAll('details').values()) svg.open = true;
  for (const svg of document.querySelectorAll('svg.plot')) {
    const boxes = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()])
      .filter(([, r]) => r.width > 0 && r.height > 0);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (x > 1 && y > 1) out.push(`${svg.getAttribute('aria-label')}: '${a}' / '${b}'`);
    }
  }
  return out;
})()
"""


def test_chromium_harness_sees_console_errors(chromium, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('seen')</script></body></html>")
    assert chromium.load(page.as_uri()).errors == ["console.error: seen"]


def test_report_for_an_unknown_run_names_it(demo_env, demo_dbs):
    path, env, _ = demo_env
    assert run_cli("report", "-c", str(path), env=env).stdout.count("no prodlike control schema yet") == 1
    run_cli("refresh", "-c", str(path), env=env)  # released or halted: either way the control schema exists
    out = run_cli("report", "no-such-run", "-c", str(path), env=env)
    assert out.returncode == 1
    assert "no run 'no-such-run' in staging's prodlike.runs" in out.stdout


@pytest.mark.parametrize("plot, expected", [
    # dates on a histogram axis are shortened to the day
    ({"plot": "histogram", "edges": ["2024-01-01T00:00:00", "2025-01-01T00:00:00"], "production": [1.0],
      "staging": [1.0]}, "2024-01-01<"),
    # category labels are escaped
    ({"plot": "categories", "labels": ["<x>"], "production": [1.0], "staging": [0.5]}, "&lt;x&gt;"),
    # lengths carry the null fractions
    ({"plot": "lengths", "edges": [1, 2], "production": [1.0], "staging": [1.0], "null_fraction": [0.1, 0.2]},
     "20.0%"),
    # an unknown plot kind is named, never guessed
    ({"plot": "violin"}, "no plot of kind violin"),
])
def test_distribution_plots(plot, expected):
    assert expected in report.distribution_svg(plot)


def test_headline_verdicts():
    run = {"status": "released"}
    assert report.headline(run, [{"verdict": "pass"}]) == ("released", "pass")
    assert report.headline(run, [{"verdict": "warn"}]) == ("released with warnings", "warn")
    assert report.headline({"status": "halted"}, []) == ("halted", "error")


def test_a_run_without_checks_renders():
    now = datetime.now(UTC)
    run = {"run_id": "r1", "status": "failed", "started_at": now, "finished_at": now, "snapshot_time": None,
           "tables": {}, "checks": [], "error": "UnreachableServerError: cannot connect to production"}
    page = report.render(run, [], None, None, now)
    assert "cannot connect to production" in page and "no release yet" in page


def test_every_text_is_escaped_and_odd_results_do_not_break_the_page():
    now = datetime.now(UTC)
    odd = [{"check": "infrastructure", "statistic": "index:<t>", "production": "<b>", "staging": None,
            "verdict": "error", "explanation": "<script>alert(1)</script>", "divergence": "n/a", "threshold": None},
           {"check": "distribution", "table": "s.t", "column": "c", "verdict": "warn", "details": "not a list"},
           {"check": "plans", "verdict": "warn", "production": 1, "staging": 2, "details": [
               {"fingerprint": "f", "sql": "SELECT '<x>'", "verdict": "different-index",
                "production_plan": ["Node Type=Index Scan Index Name=<i>"], "staging_plan": [],
                "differing": {"production": [0], "staging": []}}]},
           {"check": "something_new", "verdict": "pass"}]
    run = {"run_id": "<r>", "status": "halted", "started_at": now, "finished_at": None, "snapshot_time": now,
           "tables": {"s.t": {"rows": 1}}, "checks": odd, "error": None}
    page = report.render(run, [], None, None, now)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;i&gt;" in page and "&lt;x&gt;" in page and "run &lt;r&gt;" in page


def test_a_small_dip_is_drawn_from_zero_and_stated_in_numbers():
    """200,000 -> 194,400 used to fill the whole axis (a cliff); now the axis starts at 0 and the caption says -2.8%."""
    run = {"run_id": "r3", "status": "released", "tables": {"public.t": {"rows": 194_400}}, "checks": []}
    trend = [{"id": 1, "run_id": "r1", "tables": {"public.t": {"rows": 200_000}}, "checks": []},
             {"id": 2, "run_id": "r2", "tables": {"public.t": {"rows": 200_000}}, "checks": []}]
    html = report.trend_section(trend, run)
    assert "rows copied (all tables) <span class=\"change\">(200,000 \u2192 194,400, -2.8%)</span>" in html
    assert '<text x="52" y="118" text-anchor="end">0</text>' in html  # the axis' low label: zero
