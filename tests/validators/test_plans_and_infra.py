"""Plan equivalence and infrastructure parity against real servers: an identical copy passes; a dropped
index, a changed planner setting and an unparsable query each give the expected verdict."""

from __future__ import annotations

import psycopg
import pytest

from prodlike.pipelines.definitions import DEMO_CONFIG
from prodlike.validators import infra, plans
from prodlike.validators.results import Threshold, Verdict
from tests.conftest import TEST_KEY, refresh

WORKLOAD = DEMO_CONFIG.with_name("workload.sql").read_text()


@pytest.fixture
def copied(demo_config, demo_dbs):
    refresh(demo_config, key=TEST_KEY)
    return demo_dbs


def _planned(pair, queries, stage_setup: str = ""):
    with psycopg.connect(pair.source) as prod, psycopg.connect(pair.target) as stage:
        if stage_setup:
            stage.execute(stage_setup)
            stage.commit()
        return plans.compare_workload(prod, stage, queries)


def test_workload_fingerprints_dedupe_and_flag_parameters():
    queries = plans.load_workload(WORKLOAD + "\nSELECT id, total FROM orders WHERE customer_id = 7 AND "
                                  "status = 'paid';\nSELEC broken;")
    assert len([q for q in queries if not q.error]) == 18  # the literal variant of query 18 is a duplicate
    assert sum(q.parameterized for q in queries) == 1
    assert queries[-1].error and queries[-1].error.startswith("does not parse")
    a = plans.load_workload("SELECT * FROM t WHERE id = 1 LIMIT 5")[0].fingerprint
    b = plans.load_workload("select *   from t where id = 42 limit 10")[0].fingerprint
    assert a == b


def test_identical_copy_plans_the_same(copied):
    queries = plans.load_workload(WORKLOAD)
    result = plans.plan_check(_planned(copied, queries), Threshold(warn=0.1, error=0.25))
    assert result.verdict in (Verdict.PASS, Verdict.WARN), result.explanation
    assert result.divergence <= 0.25
    assert {d["verdict"] for d in result.details} <= {"identical", "equivalent", "different-index", "different-shape"}


def test_the_same_index_read_by_another_access_method_is_equivalent_not_different(copied):
    """A fresh copy may read an index by bitmap heap scan where production uses an index scan: the same index
    serves the same predicate, so it must not count as a difference (it made every first run warn)."""
    queries = [q for q in plans.load_workload(WORKLOAD) if "email =" in q.sql]
    [cmp] = _planned(copied, queries, "SET enable_indexscan = off")
    assert "Node Type=Index Scan" in "\n".join(cmp.production)
    assert "Node Type=Bitmap Heap Scan" in "\n".join(cmp.staging)
    assert cmp.verdict == plans.EQUIVALENT and "same indexes" in cmp.reason
    result = plans.plan_check([cmp], Threshold(warn=0.0, error=0.5))
    assert result.verdict == Verdict.PASS and result.divergence == 0.0
    assert "1 read the same indexes by another access method" in result.explanation
    assert result.details[0]["staging_plan"] and result.details[0]["reason"]  # the report shows what differs


def test_another_index_or_a_seq_scan_is_still_a_difference():
    scan = {"Node Type": "Index Scan", "Relation Name": "t", "Index Name": "t_a_idx"}
    bitmap_other = {"Node Type": "Bitmap Heap Scan", "Relation Name": "t",
                    "Plans": [{"Node Type": "Bitmap Index Scan", "Index Name": "t_b_idx"}]}
    seq = {"Node Type": "Seq Scan", "Relation Name": "t"}
    assert plans.compare_plans(scan, bitmap_other) == plans.DIFFERENT_INDEX
    assert plans.compare_plans(scan, seq) == plans.DIFFERENT_SHAPE
    only = {"Node Type": "Index Only Scan", "Relation Name": "t", "Index Name": "t_a_idx", "Scan Direction": "Forward"}
    assert plans.compare_plans(scan, only) == plans.EQUIVALENT


def test_dropped_index_changes_the_plan(copied):
    queries = [q for q in plans.load_workload(WORKLOAD) if "email =" in q.sql]
    with copied.dst() as dst:
        dst.execute("ALTER TABLE customers DROP CONSTRAINT customers_email_key")
    [cmp] = _planned(copied, queries)
    assert cmp.verdict == plans.DIFFERENT_SHAPE
    assert "Index Name=customers_email_key" in "\n".join(cmp.production)
    assert "!" in cmp.diff and "Seq Scan" in cmp.diff
    result = plans.plan_check([cmp], Threshold(warn=0.1, error=0.25))
    assert result.verdict == Verdict.ERROR and result.divergence == 1.0


def test_changed_random_page_cost_shows_in_parity_and_plans(copied):
    with copied.dst() as dst:
        dst.execute(f'ALTER DATABASE "{copied.target_db}" SET random_page_cost = 40')
    with psycopg.connect(copied.source) as prod, psycopg.connect(copied.target) as stage:
        diffs = infra.compare(infra.facts(prod, "public"), infra.facts(stage, "public"))
    [setting] = [d for d in diffs if d.statistic == "setting:random_page_cost"]
    assert (setting.production, setting.staging, setting.verdict) == ("4", "40", Verdict.ERROR)
    comparisons = _planned(copied, plans.load_workload(WORKLOAD))
    assert any(c.verdict != plans.IDENTICAL for c in comparisons)


def test_parity_of_identical_servers_is_clean_and_a_missing_index_is_named(copied):
    with psycopg.connect(copied.source) as prod, psycopg.connect(copied.target) as stage:
        assert infra.compare(infra.facts(prod, "public"), infra.facts(stage, "public")) == []
        stage.execute("DROP INDEX orders_status_idx")
        diffs = infra.compare(infra.facts(prod, "public"), infra.facts(stage, "public"),
                              {"index": Verdict.WARN})
    assert [(d.statistic, d.verdict, d.explanation) for d in diffs] == [
        ("index:orders.orders_status_idx", Verdict.WARN, "index orders.orders_status_idx is missing on staging")]


def test_an_unparsable_query_is_an_error_of_the_check_not_a_pass(copied):
    queries = plans.load_workload("SELECT count(*) FROM orders;\nSELECT FROM WHERE;")
    result = plans.plan_check(_planned(copied, queries), Threshold(warn=0.5, error=0.9))
    assert result.verdict == Verdict.ERROR
    assert "1 could not be checked" in result.explanation
