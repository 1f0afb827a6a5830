"""Length limits: every text transformer fits varchar(n) from its minimum width upward, stays injective where it
says so at that width, keeps its unconstrained outputs where they fit, and the policy refuses only below it."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from prodlike.anonymizers import policy, registry
from prodlike.anonymizers.base import ColumnInfo

KEY = b"length-limits-key-0123456789-0123456789"
VALUES = [f"customer{i}@shop{i % 13}.example.net" for i in range(3000)]
NOTES = [f"Dear Anna Smith, call +49 30 {i:07d} or mail anna{i}@corp.example about order {i}" for i in range(300)]

# (transformer, sample inputs) -- one row per transformer that knows the column's length limit
LENGTH_AWARE = [
    ("first_name", VALUES),     # pool: picks among the names that fit
    ("last_name", VALUES),      # pool
    ("city", VALUES),           # pool
    ("full_name", VALUES),      # first and last name both chosen to fit
    ("street", VALUES),         # house number + a street name that fits
    ("address", VALUES),        # street and city chosen to fit beside the number and postcode
    ("email", VALUES),          # first.last.tag@, first.tag@, tag@: the tag is never cut
    ("regex_redact", NOTES),    # free text: cut to the column after replacement
]


def _make(name: str, limit: int | None, type_name: str = "varchar"):
    return registry.get(name)({}, KEY, ColumnInfo(max_length=limit, type_name=type_name))


@pytest.mark.parametrize("name, values", LENGTH_AWARE, ids=[c[0] for c in LENGTH_AWARE])
def test_outputs_fit_from_the_minimum_width_upward(name, values):
    widest = max(len(v) for v in _make(name, None).transform(values))
    low = _make(name, None).min_width
    for limit in [*range(low, low + 12), low + 20, widest - 1, widest]:
        t = _make(name, limit)
        out = t.transform(values)
        assert max(map(len, out)) <= limit, (name, limit)
        assert t.transform_arrow(pa.array(values)).to_pylist() == out  # the copy path's form too


@pytest.mark.parametrize("name", ["first_name", "last_name", "city", "full_name", "street", "address", "email"])
def test_a_pick_that_fits_is_the_unconstrained_pick(name):
    """A narrower column changes only the outputs that would not fit (the same person keeps the same name in a
    varchar(50) column and in a text column wherever it fits)."""
    free = _make(name, None).transform(VALUES)
    limit = sorted(map(len, free))[len(free) // 2]  # half of them fit
    fitted = _make(name, limit).transform(VALUES)
    for a, b in zip(free, fitted):
        if len(a) <= limit:
            assert a == b
    assert any(a != b for a, b in zip(free, fitted))


def test_email_at_its_minimum_width_stays_unique_at_one_million():
    t = _make("email", None)
    narrow = _make("email", t.min_width)
    out = narrow.transform([f"user{i}@host{i % 7}.example.org" for i in range(1_000_000)])
    assert len(set(out)) == 1_000_000
    assert all(re.fullmatch(r"[0-9a-f]{16}@example\.com", o) for o in out[:1000])


def test_pool_picks_within_a_width_stay_varied():
    """At its minimum width a pool transformer still chooses among at least 20 entries."""
    t = _make("first_name", _make("first_name", None).min_width)
    assert len(set(t.transform(VALUES))) >= 20


def _shape(type_sql: str) -> policy.TableShape:
    return policy.TableShape("public.people", [policy.ColumnShape("who", "varchar", "S", type_sql)])


@pytest.mark.parametrize("name, type_sql, minimum", [
    ("first_name", "character varying(2)", 3),   # only 'Bo' would fit: too few names
    ("email", "character varying(27)", 28),      # <16-hex tag>@example.com is 28
    ("address", "character varying(21)", 22),
])
def test_policy_refuses_only_below_the_minimum_naming_it(name, type_sql, minimum):
    with pytest.raises(policy.PolicyError, match=re.escape(
            f"public.people.who is {type_sql}: {name!r} needs at least {minimum} characters (its shortest realistic "
            f"value); widen the column to varchar({minimum}) or more")):
        policy.build({"public.people": {"who": (name, {})}}, {"public.people": _shape(type_sql)}, KEY,
                     ["public.people"])
    wider = type_sql.replace(f"({minimum - 1})", f"({minimum})")
    policy.build({"public.people": {"who": (name, {})}}, {"public.people": _shape(wider)}, KEY, ["public.people"])


def test_char_columns_are_padded_as_postgresql_pads_them():
    shape = policy.TableShape("public.people", [policy.ColumnShape("who", "bpchar", "S", "character(12)")])
    plan = policy.build({"public.people": {"who": ("first_name", {})}}, {"public.people": shape}, KEY,
                        ["public.people"]).plans["public.people"]
    out = plan.apply({"who": pa.array(["Anna        ", "Bob         ", None])})["who"].to_pylist()
    assert [len(v) for v in out[:2]] == [12, 12] and out[2] is None
    assert out[0].rstrip() == _make("first_name", 12).one("Anna        ")
