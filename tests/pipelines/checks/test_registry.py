"""The check registry: every check declared once; Dagster specs, `resume --accept`, the report and the README
derive from it; every check that blocks a release can be accepted once."""

from __future__ import annotations

import psycopg
import pytest

from prodlike.pipelines.checks import registry
from prodlike.pipelines.checks.runner import accept
from prodlike.pipelines.config.model import load
from prodlike.pipelines.definitions import DEMO_CONFIG, load_definitions
from prodlike.pipelines.engine import control
from prodlike.pipelines.oncall import loop as oncall
from prodlike.pipelines.report.page import checks_section
from prodlike.validators.results import CheckResult, Threshold, Verdict
from tests.conftest import ROOT, make_config


def test_every_blocking_check_can_be_accepted_once(dbs, monkeypatch, tmp_path):
    names = registry.blocking_names()
    assert {"expectations", "distribution_drift"} <= set(names)  # refused as unknown before the registry
    cfg = make_config(dbs, monkeypatch)
    ctx = oncall.Context(cfg, dbs.target, tmp_path)
    oncall.resume(ctx, "accepting every blocking check once", [f"{n}:public.orders" for n in names], who="t@test")
    with psycopg.connect(dbs.target) as conn:
        assert [a["check"] for a in control.state(conn)["accept"]] == names
    results = [CheckResult(n, "public.orders", None, "s", 1, 2, 1.0, Threshold(error=0), Verdict.ERROR, "x")
               for n in names]
    accept(results, [{"check": n, "table": "public.orders"} for n in names], "note")
    assert {r.verdict for r in results} == {Verdict.WARN}


@pytest.mark.parametrize("value, message", [
    ("row_cont", "unknown check 'row_cont'; did you mean 'row_count'?"),  # a typo gets the closest name
    ("row_count:orders", "write the table as schema.table, e.g. row_count:public.orders"),  # unqualified table
])
def test_accept_refuses_what_it_cannot_accept(value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        oncall.parse_accept([value])


def test_dagster_specs_are_the_registry(monkeypatch):
    for name in ("PRODLIKE_DEMO_SOURCE_DSN", "PRODLIKE_DEMO_TARGET_DSN", "PRODLIKE_DEMO_ANON_KEY"):
        monkeypatch.setenv(name, "unused")
    cfg = load(DEMO_CONFIG)
    graph = load_definitions(DEMO_CONFIG).resolve_asset_graph()
    declared = {k.name for k in graph.asset_check_keys}
    assert declared == {c.name for c in registry.checks(cfg)}
    blocking = {c.name: c.blocking for c in registry.checks(cfg)}
    for key in graph.asset_check_keys:  # the steps gate the release (a halt is a verdict, not a crashed step)
        spec = graph.get_check_spec(key)
        assert not spec.blocking
        assert spec.description.endswith("Blocks the release at ERROR." if blocking[key.name] else
                                         "Never blocks the release.")


def test_checks_disabled_by_the_config_leave_the_graph(monkeypatch):
    cfg = load(DEMO_CONFIG).model_copy(update={"great_expectations": False})
    assert "expectations" not in {c.name for c in registry.checks(cfg)}
    assert "expectations" in {c.name for c in registry.checks()}


def test_a_duplicate_check_fails_and_an_unknown_one_names_the_closest():
    check = registry.get("row_count")
    with pytest.raises(RuntimeError, match="check 'row_count' registered twice"):
        registry.register(check)
    with pytest.raises(registry.UnknownCheckError, match="unknown check 'distribtion'; did you mean 'distribution'"):
        registry.get("distribtion")


def test_every_check_lives_in_its_own_module():
    modules = [c.runner.__module__ for c in registry.checks()]
    assert len(set(modules)) == len(modules)
    assert all(m.startswith("prodlike.pipelines.checks.") for m in modules)


def test_report_and_readme_list_every_check():
    section = checks_section([{"check": "row_count", "verdict": "pass", "table": "public.orders"}])
    for check in registry.checks():
        assert f"<td>{check.name}</td>" in section
    assert "not reached" in section  # checks without results in this run say so
    readme = (ROOT / "README.md").read_text()
    assert registry.reference() in readme, "run: python -m prodlike.pipelines.readme README.md"
