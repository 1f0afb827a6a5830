"""Names inside free text: notes that mention the row's own first and last name, an e-mail and a national-format
phone come out of a refresh with none of them; the leak check judges free text and fails a run that kept it."""

from __future__ import annotations

import pytest

from prodlike.anonymizers import registry
from prodlike.anonymizers.base import ColumnInfo
from prodlike.pipelines.checks.leak import leak
from prodlike.validators.results import Verdict
from tests.conftest import TEST_KEY, make_config, refresh

# Names outside the dictionaries too (Quillon, Brackwater): only the row's own name columns can catch those.
SQL = """
CREATE TABLE people (id integer PRIMARY KEY, first_name varchar(20), last_name varchar(30), email text,
                     country varchar(20), notes text);
INSERT INTO people
SELECT g, f, l, 'user' || g || '@corp.example', (ARRAY['Germany', 'Mexico'])[1 + g % 2],
       'Dear ' || f || ' ' || l || ', we will call you at 030-' || lpad(g::text, 7, '0') || ' or write to user' || g
       || '@corp.example. Regards, ' || upper(l)
FROM (SELECT g, (ARRAY['Anna', 'Quillon', 'Maria', 'Jorge'])[1 + g % 4] AS f,
             (ARRAY['Brackwater', 'Smith', 'Kowalski'])[1 + g % 3] AS l FROM generate_series(1, 400) g) s;
"""
COLUMNS = {"first_name": "first_name", "last_name": "last_name", "email": "email", "country": "keep"}


def _leak(outcome, verdicts_of: str) -> dict:
    found = leak(outcome.tables["public.people"], None)
    return {r.column: r for r in found if r.column == verdicts_of}


@pytest.mark.parametrize("notes_rule, verdict", [("regex_redact", Verdict.PASS), ("keep", Verdict.ERROR)])
def test_planted_names_in_free_text(dbs, monkeypatch, notes_rule, verdict):
    with dbs.src() as src:
        src.execute(SQL)
        production = src.execute("SELECT id, first_name, last_name, email, notes FROM people ORDER BY id").fetchall()
    cfg = make_config(dbs, monkeypatch, {"public.people": {"columns": {**COLUMNS, "notes": notes_rule}}})
    outcome = refresh(cfg, release=False).outcome
    result = _leak(outcome, "notes")["notes"]
    assert result.verdict == verdict, result.explanation
    assert result.statistic == "free_text_leaked_share"
    if notes_rule == "keep":
        assert result.staging == 1.0  # every row still holds its names, e-mail and phone
        return
    assert "0 of 400 texts" in result.explanation
    with dbs.dst() as dst:
        staged = dict(dst.execute('SELECT id, notes FROM "_prodlike_shadow_public".people').fetchall())
        anonymized = dict((r[0], r[1:]) for r in dst.execute(
            'SELECT id, first_name, last_name FROM "_prodlike_shadow_public".people'))
    for pid, first, last, email, _ in production:
        text = staged[pid]
        assert first not in text and last not in text and last.upper() not in text, text
        assert email not in text and f"030-{pid:07d}" not in text, text
        new_first, new_last = anonymized[pid]
        assert text.startswith(f"Dear {new_first} {new_last}, ")  # the names the row's columns got
        assert text.endswith(f"Regards, {new_last.upper()}")


def test_a_kept_column_with_a_single_name_word_is_not_a_leak(dbs, monkeypatch):
    """Kept text beside name columns is judged as free text, but one name word alone (a country that is also a
    surname) does not count: the country column passes."""
    with dbs.src() as src:
        src.execute(SQL)
        src.execute("UPDATE people SET country = last_name WHERE id % 10 = 0")
    cfg = make_config(dbs, monkeypatch, {"public.people": {"columns": {**COLUMNS, "notes": "regex_redact"}}})
    outcome = refresh(cfg, release=False).outcome
    result = _leak(outcome, "country")["country"]
    assert result.verdict == Verdict.PASS and "0 of 400 texts" in result.explanation


def test_free_text_names_are_deterministic_and_match_the_name_columns():
    from prodlike.anonymizers.base import Batch

    t = registry.get("regex_redact")({}, TEST_KEY, ColumnInfo())
    first = registry.get("first_name")({}, TEST_KEY, ColumnInfo(max_length=20))
    t.bind({"first_name": first, "notes": t})
    batch = Batch({"first_name": ["Quillon", "Anna"], "notes": ["Hi Quillon!", "anna wrote: ANNA"]})
    out = t.transform(batch.columns["notes"], batch)
    q, a = first.transform(["Quillon", "Anna"])
    assert out == [f"Hi {q}!", f"{a.lower()} wrote: {a.upper()}"]
    assert out == t.transform(batch.columns["notes"], batch)
    assert t.leaked(batch.columns["notes"], out, batch) == 0
    assert t.leaked(batch.columns["notes"], batch.columns["notes"], batch) == 2


# Only every 40th note names its row's person (10 of 400 rows: a 2.5% share).
SOME = """
UPDATE people SET notes = CASE WHEN id % 40 = 0 THEN 'Dear ' || first_name || ' ' || last_name || ', thanks'
                               ELSE 'Order ' || id || ' shipped' END;
"""


@pytest.mark.parametrize("levels, verdict", [
    (None, Verdict.ERROR),                               # default: any row is an error
    ({"error": 0.01}, Verdict.ERROR),                    # 2.5% above a 1% error level
    ({"warn": 0.0, "error": 0.05}, Verdict.WARN),        # between warn and error
    ({"error": 0.05}, Verdict.PASS),                     # below the error level, no warn level
    ({"table": {"error": 0.05}}, Verdict.PASS),          # a per-column override (thresholds.tables)
])
def test_the_free_text_threshold_is_configurable(dbs, monkeypatch, levels, verdict):
    with dbs.src() as src:
        src.execute(SQL)
        src.execute(SOME)
    if levels is None:
        extra = {}
    elif "table" in levels:
        extra = {"thresholds": {"tables": {"public.people": {"columns": {"notes": {"free_text_leaks":
                                                                                   levels["table"]}}}}}}
    else:
        extra = {"thresholds": {"free_text_leaks": levels}}
    cfg = make_config(dbs, monkeypatch, {"public.people": {"columns": {**COLUMNS, "notes": "keep"}}}, **extra)
    outcome = refresh(cfg, release=False).outcome
    result = {r.column: r for r in leak(outcome.tables["public.people"], None, cfg)}["notes"]
    assert result.staging == pytest.approx(10 / 400)
    assert result.verdict == verdict, result.explanation
    assert "10 of 400 texts" in result.explanation and "thresholds.free_text_leaks" in result.explanation
