"""Value distributions: production's profile from the copy stream against one scan of the shadow copy."""

from __future__ import annotations

import json

import pytest

from prodlike.pipelines.checks.distribution import distribution
from prodlike.pipelines.checks.drift import drift
from prodlike.pipelines.checks.expectations import expectations
from prodlike.pipelines.checks.leak import leak
from prodlike.pipelines.checks.runner import table_profile
from prodlike.validators.results import Verdict
from tests.conftest import make_config, refresh

SQL = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE orders (
    id integer PRIMARY KEY, amount numeric(10,2), placed date NOT NULL, at timestamptz, status text NOT NULL,
    paid boolean, mood mood, note text, email text
);
INSERT INTO orders
SELECT g, CASE WHEN g % 20 = 0 THEN NULL ELSE round((g % 1000)::numeric / 3, 2) END,
       date '2024-01-01' + g % 365, timestamptz '2024-01-01 00:00+00' + g * interval '7 minutes',
       (ARRAY['new','paid','shipped','done','returned'])[1 + g % 5], g % 3 = 0,
       (ARRAY['sad','ok','happy'])[1 + g % 3]::mood, 'note ' || md5(g::text),
       'user' || g || '@mail' || (g % 7) || '.example.org'
FROM generate_series(1, 5000) g;
ANALYZE orders;
"""
POLICY = {"public.orders": {"columns": {"amount": "keep", "placed": "keep", "at": "keep", "status": "keep",
                                        "paid": "keep", "mood": "keep", "note": "keep", "email": "email"}}}
SHADOW = '"_prodlike_shadow_public".orders'
AMOUNT_LOOSE = {"tables": {"public.orders": {"columns": {"amount": {"distribution": {"error": 100},
                                                                   "ks": {"error": None}}}}}}

CASES = [
    # an identical copy passes every column
    ("identical", None, {}, {}),
    # amounts shifted up by 200 in the copy: PSI past 0.25 is an error, KS too
    ("amount shifted", f"UPDATE {SHADOW} SET amount = amount + 200", {}, {"amount": (Verdict.ERROR, "psi")}),
    # the same shift with a per-column override only warns
    ("override", f"UPDATE {SHADOW} SET amount = amount + 200", {"thresholds": AMOUNT_LOOSE},
     {"amount": (Verdict.WARN, "psi")}),
    # a vanished category ('returned' became 'done') shifts the category frequencies
    ("category vanished", f"UPDATE {SHADOW} SET status = 'done' WHERE status = 'returned'", {},
     {"status": (Verdict.ERROR, "psi")}),
    # a tenth of the anonymized e-mails lost: the null fraction differs by 0.1
    ("nulls", f"UPDATE {SHADOW} SET email = NULL WHERE id % 10 = 0", {}, {"email": (Verdict.ERROR, "null_fraction")}),
    # e-mails that are no longer e-mails fail the format check
    ("format", f"UPDATE {SHADOW} SET email = md5(email) WHERE id % 2 = 0", {},
     {"email": (Verdict.ERROR, "format_share")}),
    # dates moved by a year: histogram on production's edges
    ("dates", f"UPDATE {SHADOW} SET placed = placed + 365", {}, {"placed": (Verdict.ERROR, "psi")}),
]


@pytest.mark.parametrize("name,staging_sql,extra,expected", CASES, ids=[c[0] for c in CASES])
def test_distribution_cases(dbs, monkeypatch, name, staging_sql, extra, expected):
    with dbs.src() as src:
        src.execute(SQL)
    cfg = make_config(dbs, monkeypatch, POLICY, **extra)
    tr = refresh(cfg, release=False).outcome.tables["public.orders"]
    if staging_sql:
        with dbs.dst() as dst:
            dst.execute(staging_sql)
    found = {r.column: r for r in distribution(cfg, dbs.target, tr)}
    assert set(found) == {"id", "amount", "placed", "at", "status", "paid", "mood", "note", "email"}
    got = {c: (r.verdict, r.statistic) for c, r in found.items() if r.verdict != Verdict.PASS}
    assert got == expected, [found[c].explanation for c in got]
    for r in found.values():
        assert r.check == "distribution" and len(r.details) == 1
        plot = r.details[0]
        assert len(plot["production"]) == len(plot["staging"]) == len(plot.get("labels") or plot["edges"][1:])


def test_numbers_of_a_shift_and_no_values_of_anonymized_columns(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(SQL)
    cfg = make_config(dbs, monkeypatch, POLICY)
    tr = refresh(cfg, release=False).outcome.tables["public.orders"]
    with dbs.dst() as dst:
        dst.execute(f"UPDATE {SHADOW} SET email = NULL WHERE id % 10 = 0")
    found = {r.column: r for r in distribution(cfg, dbs.target, tr)}
    email = found["email"]
    assert (email.production, email.staging, round(email.divergence, 3)) == (0.0, 0.1, 0.1)
    assert email.details[0]["null_fraction"] == [0.0, 0.1]
    assert email.explanation.startswith("public.orders.email (email): null_fraction 0 vs 0.1 (0.1 apart > 0.05)")
    assert "@" not in repr(email.as_dict())
    amount = found["amount"]
    assert amount.details[0]["edges"][0] == pytest.approx(35.33) and sum(amount.details[0]["production"]) == \
        pytest.approx(1.0)
    assert found["status"].details[0]["labels"] == ["done", "new", "paid", "returned", "shipped"]


def test_production_drift_between_releases_warns(dbs, monkeypatch):
    """Production's own amounts move between two releases: the drift check warns, the copy itself passes."""
    with dbs.src() as src:
        src.execute(SQL)
    cfg = make_config(dbs, monkeypatch, POLICY)
    first = refresh(cfg, release=False)
    tr = first.outcome.tables["public.orders"]
    first_drift = drift(cfg, dbs.target, first.run_id, tr.table, distribution(cfg, dbs.target, tr))
    assert {r.verdict for r in first_drift} == {Verdict.PASS}
    first.release()
    with dbs.src() as src:
        src.execute("UPDATE orders SET amount = amount * 3 WHERE id % 2 = 0")
    second = refresh(cfg, release=False)
    tr = second.outcome.tables["public.orders"]
    shapes = distribution(cfg, dbs.target, tr)
    assert {r.verdict for r in shapes} == {Verdict.PASS}
    moved = {r.column: r for r in drift(cfg, dbs.target, second.run_id, tr.table, shapes)}
    assert moved["amount"].verdict == Verdict.WARN and moved["amount"].divergence > 0.1
    assert {c for c, r in moved.items() if r.verdict != Verdict.PASS} == {"amount"}
    assert set(moved["amount"].details[0]) == {"plot", "edges", "previous", "production"}


@pytest.mark.parametrize("thresholds,message", [
    # a statistic that does not exist, at column level
    ({"tables": {"public.orders": {"columns": {"amount": {"psi": {"warn": 1}}}}}},
     r"thresholds\.tables\.public\.orders\.columns\.amount\.psi: unknown key"),
    # a table not written schema.table
    ({"tables": {"orders": {"row_count": {"error": 0.1}}}}, r"thresholds\.tables: thresholds\.tables\.orders: write"),
])
def test_threshold_override_errors_name_the_key(thresholds, message):
    from prodlike.pipelines.config.model import ConfigError, load_text

    text = "source: {dsn: '${A}'}\ntarget: {dsn: '${B}'}\nthresholds: " + json.dumps(thresholds)
    with pytest.raises(ConfigError, match=message):
        load_text(text)


def test_great_expectations_from_production_numbers(dbs, monkeypatch):
    """GX on the copy: a clean copy meets every expectation; shifted amounts miss KL divergence and mean."""
    with dbs.src() as src:
        src.execute(SQL)
    cfg = make_config(dbs, monkeypatch, POLICY)
    tr = refresh(cfg, release=False).outcome.tables["public.orders"]
    clean = expectations(cfg, dbs.target, [tr])["public.orders"]
    assert {(r.column, r.statistic) for r in clean} == {
        (None, "row_count"),
        *((c, s) for c in ("id", "amount") for s in ("kl_divergence", "mean", "non_null_fraction"))}
    assert all(r.verdict == Verdict.PASS for r in clean), [r.explanation for r in clean]
    with dbs.dst() as dst:
        dst.execute(f"UPDATE {SHADOW} SET amount = amount + 200")
    shifted = {(r.column, r.statistic): r for r in expectations(cfg, dbs.target, [tr])["public.orders"]}
    failed = {k for k, r in shifted.items() if r.verdict == Verdict.ERROR}
    assert failed == {("amount", "kl_divergence"), ("amount", "mean")}
    assert shifted[("amount", "mean")].staging == pytest.approx(shifted[("amount", "mean")].production + 200, rel=1e-3)


LEAK_CASES = [
    # e-mails through the email transformer: none equals its own input (chance 0)
    # (kept text beside a person-name column, the e-mail's local part, is judged as free text: status and note)
    ("email", {"email": "email"}, {"email": Verdict.PASS, "status": Verdict.PASS, "note": Verdict.PASS}),
    # a constant that happens to be production's own value: every row keeps its input, a leak
    ("constant", {"email": "email", "status": {"transformer": "constant", "value": "paid"}},
     {"email": Verdict.PASS, "status": Verdict.ERROR, "note": Verdict.PASS}),
]


@pytest.mark.parametrize("name,rules,expected", LEAK_CASES, ids=[c[0] for c in LEAK_CASES])
def test_leak_of_own_input(dbs, monkeypatch, name, rules, expected):
    with dbs.src() as src:
        src.execute(SQL)
        src.execute("UPDATE orders SET status = 'paid'")
    policy = {"public.orders": {"columns": {**POLICY["public.orders"]["columns"], **rules}}}
    cfg = make_config(dbs, monkeypatch, policy)
    tr = refresh(cfg, release=False).outcome.tables["public.orders"]
    found = {r.column: r for r in leak(tr)}
    assert {c: r.verdict for c, r in found.items()} == expected
    if name == "constant":
        assert (found["status"].staging, found["status"].production) == (1.0, 0.0)
        assert found["status"].explanation.startswith("public.orders.status (constant): 5,000 of 5,000 values")


ODD_SQL = """
CREATE TABLE odd (
    id bigint PRIMARY KEY, n numeric, f float8, d date, ts timestamp, kind text, phone text, code text, flag boolean,
    tz timestamptz
);
INSERT INTO odd
SELECT g, CASE g % 50 WHEN 0 THEN 'NaN' WHEN 1 THEN 'Infinity' WHEN 2 THEN '-Infinity' ELSE (g % 97)::numeric / 7 END,
       CASE g % 40 WHEN 0 THEN 'NaN' WHEN 1 THEN '-Infinity' WHEN 3 THEN NULL ELSE g * 1.5e10 END,
       CASE g % 60 WHEN 0 THEN 'infinity'::date WHEN 1 THEN '-infinity' WHEN 2 THEN '0044-03-15 BC'
                   ELSE date '2020-02-29' + g END,
       CASE g % 70 WHEN 0 THEN 'infinity'::timestamp WHEN 1 THEN '-infinity' WHEN 2 THEN '0044-03-15 12:34:56.5 BC'
                   ELSE timestamp '2001-01-01 10:00:00.123456' + g * interval '1 h' END,
       (ARRAY['a', 'b', 'c d', 'é%_'])[1 + g % 4], CASE WHEN g % 9 = 0 THEN 'ünïcode' ELSE '+49 (30) ' || g END,
       CASE WHEN g % 11 = 0 THEN 'x' || g ELSE lpad(g::text, 6, '0') END, g % 3 = 0,
       CASE g % 80 WHEN 0 THEN 'infinity'::timestamptz WHEN 1 THEN '-infinity' WHEN 2 THEN '0300-01-01 00:00:00+00 BC'
                   ELSE timestamptz '2010-06-01 00:00+00' + g * interval '37 min' END
FROM generate_series(1, 3000) g;
ANALYZE odd;
"""


def test_staging_scan_reads_production_numbers_on_odd_values(dbs, monkeypatch):
    """An identical copy holding NaN, infinities, out-of-range values, unicode and format-breaking rows: staging's one
    scan reads exactly production's counts per bin, category and length, nulls, min/max and format shares;
    '-infinity' and BC dates and timestamps bin first on both sides, 'infinity' last."""
    from prodlike.validators.distributions import CATEGORIES, LENGTHS, StagingQuery, effective_mode

    with dbs.src() as src:
        src.execute(ODD_SQL)
    policy = {"public.odd": {"columns": {**dict.fromkeys(["n", "f", "d", "ts", "kind", "code", "flag", "tz"], "keep"),
                                         "phone": "phone"}}}
    cfg = make_config(dbs, monkeypatch, policy)
    tr = refresh(cfg, release=False).outcome.tables["public.odd"]
    prof = table_profile(tr)
    # production's side mirrored as it is, to compare staging's reading of the same rows (phone anonymized: lengths)
    with dbs.dst() as dst:
        dst.execute('UPDATE "_prodlike_shadow_public".odd SET phone = CASE WHEN id % 9 = 0 THEN \'ünïcode\' '
                    "ELSE '+49 (30) ' || id END")
        query = StagingQuery('"_prodlike_shadow_public".odd', prof.specs, prof)
        sql, params = query.sql()
        staged = query.read(dst.execute(sql, params).fetchone())
    modes = {name: effective_mode(spec, prof.profiles[name]) for name, spec in prof.specs.items()}
    assert modes["kind"] == CATEGORIES and modes["phone"] == LENGTHS
    for name, p in prof.profiles.items():
        s = staged[name]
        assert (s.rows, s.nulls) == (p.rows, p.nulls), name
        if modes[name] == CATEGORIES:
            assert s.counts == [p.labels[k] for k in sorted(p.labels, key=lambda k: (-p.labels[k], k))], name
            assert s.labels == {"(new)": 0}, name
        elif modes[name] == LENGTHS:
            assert s.lengths == p.lengths, name
            assert s.formats == {k: v for k, v in p.formats.items() if k in s.formats}, name
        else:
            assert s.counts == p.counts, name
            assert (s.finite, s.minimum, s.maximum) == (p.finite, pytest.approx(p.minimum), pytest.approx(p.maximum))
            assert s.total == pytest.approx(p.total, rel=1e-12), name
    assert staged["phone"].formats == {"phone": 3000 - 333}
    assert {r.verdict for r in distribution(cfg, dbs.target, tr)} == {Verdict.PASS}


BIG_SQL = """
CREATE TABLE visits (id integer PRIMARY KEY, amount numeric(10,2), status text NOT NULL, email text);
INSERT INTO visits
SELECT g, CASE WHEN g % 20 = 0 THEN NULL ELSE round((g % 1000)::numeric / 3, 2) END,
       (ARRAY['new','paid','shipped','done','returned'])[1 + g % 5], 'visitor' || g || '@mail.example.org'
FROM generate_series(1, 200000) g;
"""
BIG_POLICY = {"public.visits": {"columns": {"amount": "keep", "status": "keep", "email": "email"}}}
BIG_SHADOW = '"_prodlike_shadow_public".visits'


@pytest.mark.parametrize("staging_sql,expected", [
    (None, {}),
    (f"UPDATE {BIG_SHADOW} SET amount = amount + 200 WHERE id % 2 = 0", {"amount": (Verdict.ERROR, "psi")}),
    (f"UPDATE {BIG_SHADOW} SET email = NULL WHERE id % 10 = 0", {"email": (Verdict.ERROR, "null_fraction")}),
    (f"UPDATE {BIG_SHADOW} SET status = 'done' WHERE status = 'returned'", {"status": (Verdict.ERROR, "psi")}),
], ids=["identical", "half the amounts shifted", "nulls", "category vanished"])
def test_a_table_beyond_the_sample_size_is_judged_on_a_sample(dbs, monkeypatch, staging_sql, expected):
    """200,000 rows against distribution_sample_rows 50,000: staging's side is a 25% Bernoulli sample (the same
    on a rerun), the copy still passes, and a shift, NULLs and a vanished category are still caught."""
    with dbs.src() as src:
        src.execute(BIG_SQL)
    cfg = make_config(dbs, monkeypatch, BIG_POLICY, distribution_sample_rows=50_000)
    tr = refresh(cfg, release=False).outcome.tables["public.visits"]
    if staging_sql:
        with dbs.dst() as dst:
            dst.execute(staging_sql)
    found = {r.column: r for r in distribution(cfg, dbs.target, tr)}
    got = {c: (r.verdict, r.statistic) for c, r in found.items() if r.verdict != Verdict.PASS}
    assert got == expected, [r.explanation for r in found.values()]
    assert all("from a 25% sample (" in r.explanation for r in found.values())
    sampled = int(found["amount"].explanation.split("% sample (")[1].split(" rows")[0].replace(",", ""))
    assert 48_000 < sampled < 52_000
    again = {r.column: r.explanation for r in distribution(cfg, dbs.target, tr)}
    assert again == {c: r.explanation for c, r in found.items()}  # REPEATABLE: the same sample, the same numbers
    whole = make_config(dbs, monkeypatch, BIG_POLICY, distribution_sample_rows=0)
    assert not any("sample" in r.explanation for r in distribution(whole, dbs.target, tr))


def test_great_expectations_read_the_sample_of_a_large_table(dbs, monkeypatch):
    """Beyond distribution_sample_rows the distribution check leaves its sample for GX: the row count is met on
    the whole copy, the column expectations on the sample (a sampled mean within 6 bounded standard errors); a
    shift is still missed by KL divergence and mean; the samples are dropped once GX has read them."""
    with dbs.src() as src:
        src.execute(BIG_SQL)
    cfg = make_config(dbs, monkeypatch, BIG_POLICY, distribution_sample_rows=50_000)
    tr = refresh(cfg, release=False).outcome.tables["public.visits"]

    def samples() -> int:
        with dbs.dst() as dst:
            return dst.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'prodlike' "
                               "AND tablename LIKE 'sample\\_%'").fetchone()[0]

    distribution(cfg, dbs.target, tr)
    assert samples() == 1 and 48_000 < tr.sample[1] < 52_000
    clean = {(r.column, r.statistic): r for r in expectations(cfg, dbs.target, [tr])["public.visits"]}
    assert set(clean) == {(None, "row_count"), *((c, s) for c in ("id", "amount")
                                                  for s in ("kl_divergence", "mean", "non_null_fraction"))}
    assert all(r.verdict == Verdict.PASS for r in clean.values()), [r.explanation for r in clean.values()]
    assert "sample" not in clean[(None, "row_count")].explanation and clean[(None, "row_count")].staging == 200_000
    assert "on the distribution check's sample of" in clean[("amount", "mean")].explanation
    assert samples() == 0
    with dbs.dst() as dst:
        dst.execute(f"UPDATE {BIG_SHADOW} SET amount = amount + 200")
    distribution(cfg, dbs.target, tr)
    shifted = {(r.column, r.statistic) for r in expectations(cfg, dbs.target, [tr])["public.visits"]
               if r.verdict == Verdict.ERROR}
    assert shifted == {("amount", "kl_divergence"), ("amount", "mean")}


ESCAPED_SQL = r"""
CREATE TABLE notes (id integer PRIMARY KEY, body text, tag text);
INSERT INTO notes
SELECT g, CASE g % 4 WHEN 0 THEN repeat(E'\t', g % 40) WHEN 1 THEN repeat(E'line\n', g % 30)
                     WHEN 2 THEN repeat(E'C:\\dir\\', g % 20) ELSE 'plain ' || g END,
       (ARRAY[E'a\tb', E'c\nd', E'e\\f', 'g'])[1 + g % 4]
FROM generate_series(1, 2000) g;
ANALYZE notes;
"""


@pytest.mark.parametrize("processes", [0, 2], ids=["copy thread", "workers"])
def test_keep_text_with_tabs_newlines_and_backslashes_passes(dbs, monkeypatch, processes):
    """Issue 21 point 6: production's lengths were measured on COPY-escaped text, staging's with length(): an
    identical copy of text full of tabs, newlines and backslashes halted on false length errors."""
    with dbs.src() as src:
        src.execute(ESCAPED_SQL)
    cfg = make_config(dbs, monkeypatch, {"public.notes": "keep"}, copy={"transform_processes": processes})
    tr = refresh(cfg, release=False).outcome.tables["public.notes"]
    found = {r.column: r for r in distribution(cfg, dbs.target, tr)}
    assert {c: r.verdict for c, r in found.items()} == {"id": Verdict.PASS, "body": Verdict.PASS, "tag": Verdict.PASS}
    body = found["body"].details[0]
    assert body["production"] == body["staging"]  # the very same length histogram on both sides
