"""Transformers: a case table per transformer, one contract test over the whole registry, determinism
across processes, uniqueness at 1M values, exact errors for a missing key and bad parameters."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pyarrow as pa
import pytest

from prodlike.anonymizers import registry
from prodlike.anonymizers.base import NUMERIC, ColumnInfo, ParameterError, Transformer
from prodlike.anonymizers.keys import AnonymizationKeyError, check_key
from prodlike.anonymizers.registry import UnknownTransformerError
from tests.conftest import ROOT

KEY = b"unit-test-key-0123456789-0123456789"
OTHER_KEY = b"another-key-0123456789-0123456789-xx"
UNICODE = "Zoë Ñúñez-Łukasz 東京 😀"
LONG = "x" * 100_000 + "@example.org"

# (transformer, params, column type category, input, check on the output) -- one comment per row
CASES = [
    ("keep", {}, "S", "anything", lambda o, i: o == i),                             # unchanged
    ("null", {}, "S", "secret", lambda o, i: o is None),                             # always NULL
    ("constant", {"value": "REDACTED"}, "S", "secret", lambda o, i: o == "REDACTED"),  # fixed value
    ("hash", {}, "S", "secret", lambda o, i: re.fullmatch(r"[0-9a-f]{32}", o)),      # 32 hex chars
    ("hash", {"length": 16, "encoding": "base64"}, "S", "secret", lambda o, i: len(o) == 16),  # base64
    ("email", {}, "S", "Jane.Doe@corp.com", lambda o, i: re.fullmatch(r"[a-z]+\.[a-z]+\.[0-9a-f]{16}@example\.com", o)),
    ("email", {"keep_domain": True}, "S", "jane@corp.com", lambda o, i: o.endswith("@corp.com") and o != i),
    ("email", {}, "S", "JANE@corp.com", lambda o, i: o == registry.get("email")(None, KEY).one("jane@corp.com")),
    ("first_name", {}, "S", "Jane", lambda o, i: o and o[0].isupper()),              # a real-looking name
    ("last_name", {}, "S", "Doe", lambda o, i: bool(o)),                             # from the pool
    ("full_name", {}, "S", "Jane Doe", lambda o, i: len(o.split()) >= 2),            # first + last
    ("phone", {}, "S", "+49 30 1234567", lambda o, i: re.fullmatch(r"\+49 \d\d \d{7}", o) and o != i),
    ("phone", {}, "S", "(555) 010-9999", lambda o, i: re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", o)),
    ("street", {}, "S", "1 Main St", lambda o, i: re.match(r"\d+ ", o)),             # number + street
    ("address", {}, "S", "1 Main St, 10115 Berlin", lambda o, i: "," in o),          # one-line address
    ("city", {}, "S", "Berlin", lambda o, i: bool(o)),                               # from the pool
    ("postcode", {}, "S", "SW1A 1AA", lambda o, i: re.fullmatch(r"[A-Z]{2}\d[A-Z] \d[A-Z]{2}", o)),
    ("ip", {}, "I", "192.168.1.20", lambda o, i: re.fullmatch(r"(\d{1,3}\.){3}\d{1,3}", o) and o != i),
    ("ip", {"keep_prefix_v4": 16}, "I", "192.168.1.20/24", lambda o, i: o.startswith("192.168.") and o.endswith("/24")),
    ("ip", {}, "I", "2001:db8::1", lambda o, i: ":" in o and o != i),                # IPv6
    ("date_shift", {"max_days": 10}, "D", "2024-03-01", lambda o, i: o != i and abs(int(o[8:]) - 1) <= 31),
    ("date_shift", {}, "D", "2024-03-01 10:11:12.5+02", lambda o, i: o.endswith(" 10:11:12.5+02")),
    ("date_shift", {}, "D", "infinity", lambda o, i: o == "infinity"),               # infinities stay
    ("birth_date", {}, "D", "1980-05-17", lambda o, i: o.startswith("1980-")),       # same year
    ("birth_date", {"keep": "band", "band_years": 10}, "D", "1984-05-17", lambda o, i: o[:3] == "198"),
    ("numeric_noise", {"relative": 0.1}, NUMERIC, "100.00", lambda o, i: 90 <= float(o) <= 110 and "." in o),
    ("numeric_noise", {}, NUMERIC, "NaN", lambda o, i: o == "NaN"),                  # special values stay
    ("mask", {"keep_last": 4}, "S", "4111111111111111", lambda o, i: o == "************1111"),
    ("mask", {"keep_first": 1, "keep_last": 1}, "S", "ab", lambda o, i: o == "**"),  # too short: all masked
    ("regex_redact", {}, "S", "mail a@b.io or +49 30 1234567, card 4111 1111 1111 1111 from 10.1.2.3",
     lambda o, i: "a@b.io" not in o and "1234567" not in o and "4111 1111" not in o and "10.1.2.3" not in o
     and o.startswith("mail ")),
    ("json", {"paths": {"contact.email": "email"}}, "U", '{"contact": {"email": "a@b.io"}, "n": 1}',
     lambda o, i: json.loads(o)["n"] == 1 and json.loads(o)["contact"]["email"].endswith("@example.com")),
    ("json", {"paths": {"items.*.phone": "phone"}}, "U", '{"items": [{"phone": "+1 555 0100"}]}',
     lambda o, i: json.loads(o)["items"][0]["phone"] != "+1 555 0100"),
    ("tokenize", {}, "S", "SKU-0012345", lambda o, i: re.fullmatch(r"[A-Z]{3}-\d{7}", o) and o != i),
    ("tokenize", {}, NUMERIC, "123456", lambda o, i: len(o) == 6 and o != i),          # same digit count
    ("tokenize", {}, NUMERIC, "-42", lambda o, i: o.startswith("-") and len(o) == 3),  # sign kept
]


def _make(name, params, category="S"):
    return registry.get(name)(params, KEY, ColumnInfo(type_category=category))


@pytest.mark.parametrize("name, params, category, value, check", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_case_table(name, params, category, value, check):
    t = _make(name, params, category)
    out = t.transform([value, None, value])
    assert check(out[0], value), out[0]
    assert out[2] == out[0]                     # deterministic within a batch
    assert out[1] is None or name == "null"     # NULL stays NULL
    assert _make(name, params, category).transform([value]) == [out[0]]  # and across instances


EMAILS = [f"user{i}@host{i % 7}.example.org" for i in range(20_000)]
TEXTS = ["", UNICODE, LONG, "a", "b"]
# Per transformer: (params, column type category, sample values, distinct values it must keep distinct when
# injective) -- one row each; test_every_transformer_has_a_contract_row keeps the table complete.
CONTRACT = {
    "address": ({}, "S", TEXTS, None),
    "birth_date": ({}, "D", ["1980-05-17", "1999-12-31", "2000-02-29"], None),       # dates, not free text
    "city": ({}, "S", TEXTS, None),
    "constant": ({"value": "x"}, "S", TEXTS, None),                                      # its value is required
    "date_shift": ({}, "D", ["2024-03-01", "2024-03-01 10:11:12+02", "1999-12-31"], None),
    "email": ({}, "S", TEXTS, EMAILS),
    "first_name": ({}, "S", TEXTS, None),
    "full_name": ({}, "S", TEXTS, None),
    "hash": ({}, "S", TEXTS, EMAILS),
    "ip": ({}, "I", ["10.0.0.1", "2001:db8::1", "192.168.1.1/24"],
           [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(20_000)]),
    "json": ({}, "U", ['{"a": "mail x@y.example"}', "[]", "null"], None),
    "keep": ({}, "S", TEXTS, EMAILS),
    "last_name": ({}, "S", TEXTS, None),
    "mask": ({}, "S", TEXTS, None),
    "null": ({}, "S", TEXTS, None),
    "numeric_noise": ({}, "N", ["1.5", "100", "-3.25"], None),
    "phone": ({}, "S", TEXTS, [f"+49 30 {i:07d}" for i in range(20_000)]),
    "postcode": ({}, "S", TEXTS, None),
    "regex_redact": ({}, "S", TEXTS, None),
    "street": ({}, "S", TEXTS, None),
    "tokenize": ({}, "S", TEXTS, EMAILS),
}


def test_every_transformer_has_a_contract_row():
    assert set(CONTRACT) == set(registry.names())


@pytest.mark.parametrize("name", registry.names())
def test_registry_contract(name):
    """Every transformer: declared metadata and capabilities, one file named after it, NULL/empty/unicode/long
    values safe, deterministic, key-dependent unless it says otherwise, and injective when it says so."""
    cls = registry.get(name)
    params, category, values, distinct = CONTRACT[name]
    assert cls.name == name and cls.__module__.endswith(f".transformers.{name}")
    assert cls.description and "\n" not in cls.description
    assert cls.accepts and 0 <= cls.chance_rate <= 1 and category in cls.accepts
    assert not cls.opaque or cls.identifier, "an opaque output is an identifier's"
    assert cls.fallback is None or "S" in cls.accepts
    t = cls(params, KEY, ColumnInfo(type_category=category))
    out = t.transform(values + [None])
    assert out[-1] is None  # NULL stays NULL
    assert cls(params, KEY, ColumnInfo(type_category=category)).transform(values) == out[:-1]
    if cls.keyed_output:
        other = cls(params, OTHER_KEY, ColumnInfo(type_category=category)).transform(values)
        assert other != out[:-1], "rotating the key must change the outputs"
    if cls.injective:
        assert distinct is not None, "an injective transformer needs distinct sample values in CONTRACT"
        assert len(set(t.transform(distinct))) == len(distinct)


DETERMINISM_SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
from prodlike.anonymizers import registry
from prodlike.anonymizers.base import ColumnInfo
out = {{}}
for name in registry.names():
    params = {{"value": "x"}} if name == "constant" else {{}}
    cat = "D" if name in ("date_shift", "birth_date") else "S"
    vals = ["1990-02-03"] if cat == "D" else ["jane@corp.com", "+49 30 1234567", "10.0.0.1", "Jane Doe"]
    out[name] = registry.get(name)(params, {key!r}, ColumnInfo(type_category=cat)).transform(vals)
print(json.dumps(out))
"""


def test_determinism_across_processes():
    runs = [json.loads(subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT.format(root=str(ROOT), key=KEY)],
                                      capture_output=True, text=True, check=True,
                                      env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout)
            for seed in (1, 2)]
    assert runs[0] == runs[1]


def test_email_stays_unique_at_one_million():
    t = _make("email", {})
    values = [f"customer{i}@shop{i % 13}.example.net" for i in range(1_000_000)]
    out = t.transform(values)
    assert len(set(out)) == 1_000_000


def test_missing_and_short_keys_refuse():
    with pytest.raises(AnonymizationKeyError, match=re.escape("anonymization.key (${PRODLIKE_ANON_KEY}): no "
                                                               "anonymization key; generate one with")):
        check_key(None)
    with pytest.raises(AnonymizationKeyError, match="the anonymization key has 10 bytes; at least 32 are required"):
        check_key("0123456789")


@pytest.mark.parametrize("name, params, message", [
    ("hash", {"length": 8}, "transformer 'hash': length: Input should be greater than or equal to 16"),
    ("hash", {"encoding": "rot13"}, "transformer 'hash': encoding: Input should be 'hex' or 'base64'"),
    ("mask", {"keep_lats": 2}, "transformer 'mask': keep_lats: Extra inputs are not permitted"),
    ("constant", {}, "transformer 'constant': value: Field required"),
    ("json", {"paths": {"a": "emial"}}, "unknown transformer 'emial'; did you mean 'email'?"),
])
def test_bad_parameters_fail_at_load(name, params, message):
    with pytest.raises((ParameterError, UnknownTransformerError), match=re.escape(message)):
        _make(name, params)


def test_unknown_transformer_suggests_the_closest():
    with pytest.raises(UnknownTransformerError, match=re.escape("unknown transformer 'ful_name'; did you mean "
                                                                "'full_name'")):
        registry.get("ful_name")


def test_duplicate_registration_fails_loudly():
    from prodlike.anonymizers.registry import register

    with pytest.raises(RuntimeError, match="transformer 'email' registered twice"):
        register(registry.get("email"))


def test_date_shift_moves_one_entity_by_one_offset():
    from prodlike.anonymizers.base import Batch

    t = _make("date_shift", {"entity": "customer_id", "max_days": 100}, "D")
    days = ["2024-01-10", "2024-02-20", "2024-01-10"]
    out = t.transform(days, Batch({"customer_id": ["7", "7", "8"]}))
    from datetime import date

    shift = [(date.fromisoformat(o) - date.fromisoformat(d)).days for o, d in zip(out, days)]
    assert shift[0] == shift[1] != 0


@pytest.mark.parametrize("length", [17, 32, 63])
def test_hash_of_a_batch_without_values(length):
    """An odd hex length once failed on an all-NULL batch (an empty digest block)."""
    assert _make("hash", {"length": length}).transform([None, None]) == [None, None]
    assert _make("hash", {"length": length}).transform([]) == []


def test_regex_redact_batch_equals_one_by_one():
    """regex_redact anonymizes a batch pattern by pattern (each pattern's distinct matches through the column
    transformers' vectorized many()): every text comes out as one() makes it, matches repeated within and across
    texts, texts without any, and a pattern's output meeting a later pattern included."""
    t = registry.get("regex_redact")(None, KEY, ColumnInfo())
    texts = [f"mail a{i % 7}@b.io or +49 30 {i % 13:07d}, card 4111 1111 1111 {i % 10:04d} from 10.1.2.{i % 5} "
             f"and 2001:db8::{i % 3}; again a{i % 7}@b.io, 0049 30 {i:05d}" for i in range(300)]
    texts += ["no identifiers here", "", "Zoë: ünïcode only", "x@y.example" * 3, "+1 555 0100 +1 555 0100"]
    assert t.many(texts) == [t.one(v) for v in texts]
    assert t.transform(texts + [None])[-1] is None


MIXED = ["", "a", "Alice@Example.ORG", "bob@example.org", "+49 30 1234567", "(555) 010-0199", UNICODE, LONG, "x\ty",
         None, "a", "+49 30 1234567", None, "ÄRGER@EXAMPLE.ORG", "ΟΔΟΣ@EXAMPLE.ORG", "İSTANBUL@EXAMPLE.ORG",
         "10.0.0.1", "192.168.1.1/24", "1.2.3.4/", "256.1.1.1", "01.2.3.4", "::1", "2001:db8::1/64", "١.2.3.4"]


@pytest.mark.parametrize("name", [n for n in registry.names() if "S" in registry.get(n).accepts
                                  and n not in ("date_shift", "birth_date")])
def test_the_arrow_form_gives_the_outputs_of_the_list_form(name):
    """The copy path hands transformers Arrow columns (transform_arrow); every output must equal transform()'s,
    with NULLs, repeats, non-ASCII text, and in batches large enough to skip the repeat lookup."""
    t = _make(name, {"value": "x"} if name == "constant" else {})
    for kind in (pa.string(), pa.large_string()):
        assert t.transform_arrow(pa.array(MIXED, kind)).to_pylist() == t.transform(MIXED), kind
    if type(t).many_arrow is not Transformer.many_arrow:  # it has an Arrow form: also its large-batch paths
        repeated = [f"User{i % 50000}@Host{i % 7}.example.org" if i % 9 else None for i in range(70000)]
        unique = [f"+1 555 {i:07d}" if i % 11 else None for i in range(70000)]
        addresses = [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" + ("/24" if i % 3 else "") for i in range(70000)]
        for values in (repeated, unique, addresses):
            assert t.transform_arrow(pa.array(values, pa.string())).to_pylist() == t.transform(values)


@pytest.mark.parametrize("name", ["tokenize", "postcode"])
def test_letters_and_digits_of_other_scripts_are_permuted_within_their_script(name):
    """Non-Latin identifiers (Cyrillic, Greek, Hebrew, Arabic, CJK, Hangul, accented Latin, other digits) are never
    copied: each run is permuted within its script's range (fpe.SCRIPT_RANGES), same length, injective."""
    from prodlike.anonymizers.fpe import SCRIPT_RANGES

    t = _make(name, {})
    for first, last in SCRIPT_RANGES:
        alphabet = [chr(c) for c in range(first, min(last, first + 40) + 1)]
        values = [f"{a}{b}{c}-7" for a in alphabet[:10] for b in alphabet for c in alphabet[:5]]
        out = t.transform(values)
        assert len(set(out)) == len(values), hex(first)  # injective
        assert sum(o == v for o, v in zip(out, values, strict=True)) <= 0.05 * len(values), hex(first)
        assert all(len(o) == len(v) and all(first <= ord(c) <= last for c in o[:3]) for o, v in zip(out, values,
                                                                                                  strict=True))
    assert t.transform(["Иван Петров"]) != ["Иван Петров"] and t.one("東京") != "東京"
    assert t.one("\u2603") == "\u2603"  # a symbol in no range stays (README)
