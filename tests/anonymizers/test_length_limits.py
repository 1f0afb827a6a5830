"""Length limits: every text transformer fits varchar(n) from its minimum width upward, stays injective where it
says so at that width, keeps its unconstrained outputs where they fit, and the policy refuses only below it."""

from __future__ import annotations

import ipaddress
import json
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
    ("json", "character varying(3)", 4),          # 'null', what a document that cannot fit becomes
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


IPS = ["10.0.0.1", "192.168.1.254", "1.2.3.4/24", "255.255.255.255", "2001:db8::1", "::1", "fe80::1%eth0",
       "::ffff:1.2.3.4", "2001:0db8:85a3:0000:0000:8a2e:0370:7334/64", "not an address", "010.1.1.1"]


@pytest.mark.parametrize("limit", [7, 12, 15, 20, 39, 45])
def test_ip_under_a_length_limit_keeps_the_written_shape(limit):
    """Under varchar(n) every output is as long as its input (so it fits wherever the input did), and
    addresses stay addresses of the same version."""
    t = _make("ip", limit)
    fitting = [v for v in IPS if len(v) <= limit]
    out = t.transform(fitting)
    assert [len(o) for o in out] == [len(v) for v in fitting]
    assert t.transform_arrow(pa.array(fitting)).to_pylist() == out
    for value, new in zip(fitting, out):
        if value[0] not in "n0":  # an address (not the text, not the octet with a leading zero)
            addr = new.split("/")[0].split("%")[0]
            assert ipaddress.ip_address(addr).version == ipaddress.ip_address(value.split("/")[0].split("%")[0]).version
            assert new != value


def test_ip_at_varchar_15_stays_injective_at_one_million():
    t = _make("ip", 15)
    values = [f"{i >> 24 & 255}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(0, 1 << 32, 4294)][:1_000_000]
    assert len(set(values)) == len(values) == 1_000_000
    assert len(set(t.transform(values))) == 1_000_000


def test_ip_under_a_length_limit_keeps_whole_prefix_octets_and_groups():
    """keep_prefix_v4/v6 keep the whole octets (groups) they cover, the written shape the rest; '::' counts the
    zero groups it stands for."""
    t = registry.get("ip")({"keep_prefix_v4": 20, "keep_prefix_v6": 64}, KEY, ColumnInfo(max_length=45))
    assert t.one("192.168.1.254").startswith("192.168.")  # 20 bits: two whole octets kept
    assert t.one("2001:db8:1:2::3").startswith("2001:db8:1:2::")
    assert t.one("::2:3:4:5:6").startswith("::2:")  # '2' is the fourth group (bits 48-64)
    assert t.one("10.0.0.1") != "10.0.0.1"


DOCS = ['{"contact": {"email": "anna.smith@corp.example"}, "n": 1}', '{"items":[{"phone":"+1 555 0100"}]}',
        '"mail me at x@y.example"', '{"note":"call +49 30 1234567 or write to anna.smith@corp.example"}', "[]",
        "null", "not json: x@y.example"]


@pytest.mark.parametrize("limit", [4, 10, 25, 30, 40, 60, 80])
def test_json_fits_varchar(limit):
    """A document longer than the column after its rewrite is written compact, then its rewritten strings are cut
    (longest first): it stays a JSON document that fits, and holds no production e-mail or phone."""
    t = registry.get("json")({"paths": {"contact.email": "email"}}, KEY, ColumnInfo(max_length=limit))
    fitting = [d for d in DOCS if len(d) <= limit]
    out = t.transform(fitting)
    for doc, new in zip(fitting, out):
        assert len(new) <= limit
        if doc.startswith(("{", "[", '"', "n")) and not doc.startswith("not"):
            json.loads(new)
        for pii in ("anna.smith@corp.example", "x@y.example", "1234567", "555 0100"):
            assert pii not in new or pii not in doc


def test_json_outputs_that_fit_are_the_unconstrained_ones():
    free = registry.get("json")({}, KEY, ColumnInfo()).transform(DOCS)
    fitted = registry.get("json")({}, KEY, ColumnInfo(max_length=60)).transform(DOCS)
    assert [b for a, b in zip(free, fitted) if len(a) <= 60] == [a for a in free if len(a) <= 60]
