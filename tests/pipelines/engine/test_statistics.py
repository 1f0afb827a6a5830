"""Production's planner statistics restored into staging (PostgreSQL 18): relation sizes and `keep` columns
take production's numbers; anonymized columns never receive production's statistics (raw PII)."""

from __future__ import annotations

import pytest

from tests.conftest import refresh

FAKE_TUPLES = 123456.0  # production's statistics made distinguishable from anything staging could compute


def _mark_production(demo_dbs) -> list[str]:
    with demo_dbs.src() as src:
        src.execute("ANALYZE")
        src.execute("SELECT pg_restore_relation_stats('schemaname', 'public', 'relname', 'customers', "
                    "'relpages', 77::integer, 'reltuples', %s::real, 'relallvisible', 0::integer)", (FAKE_TUPLES,))
        for column in ("created_at", "email"):
            src.execute("SELECT pg_restore_attribute_stats('schemaname', 'public', 'relname', 'customers', "
                        "'attname', %s::text, 'inherited', false, 'null_frac', 0.25::real)", (column,))
        emails = [r[0] for r in src.execute("SELECT email::text FROM customers ORDER BY id LIMIT 500")]
    return emails


def _staging_stats(demo_dbs) -> tuple:
    with demo_dbs.dst() as dst:
        tuples = dst.execute("SELECT reltuples FROM pg_class WHERE oid = 'public.customers'::regclass").fetchone()[0]
        stats = dict(dst.execute("SELECT attname, null_frac FROM pg_stats WHERE schemaname = 'public' "
                                 "AND tablename = 'customers' AND attname IN ('created_at', 'email')").fetchall())
        email_stats = dst.execute("SELECT coalesce(most_common_vals::text, '') || coalesce(histogram_bounds::text, '') "
                                  "FROM pg_stats WHERE schemaname = 'public' AND tablename = 'customers' "
                                  "AND attname = 'email'").fetchone()[0]
        run = dst.execute("SELECT statistics FROM prodlike.runs").fetchone()[0]
    return tuples, stats, email_stats, run


@pytest.mark.parametrize("setting, restored", [
    (None, True),    # default: on, since staging is PostgreSQL 18
    (False, False),  # off: staging keeps its own ANALYZE
])
def test_keep_columns_take_production_statistics_anonymized_ones_never(demo_config, demo_dbs, setting, restored):
    emails = _mark_production(demo_dbs)
    cfg = demo_config.model_copy(update={"copy_": demo_config.copy_.model_copy(
        update={"restore_statistics": setting})})
    refresh(cfg)
    tuples, stats, email_stats, run = _staging_stats(demo_dbs)
    assert run["restored"] is restored
    if restored:
        assert tuples == FAKE_TUPLES and stats["created_at"] == pytest.approx(0.25)
        assert run["tables"] == 10 and run["columns"] > 20  # 7 tables and the 3 partitions of payments
    else:
        assert tuples == 1000 and stats["created_at"] == 0 and run["reason"] == "copy.restore_statistics is false"
    assert stats["email"] == 0  # staging's own ANALYZE of the anonymized values, never production's
    assert email_stats and not [e for e in emails if e in email_stats]
