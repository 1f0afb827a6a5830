"""PII patterns on user data: linear by construction (no unbounded quantifier in any of them), right on 200 KB
values, and phones in national and international formats recognised through libphonenumber."""

from __future__ import annotations

import re
import re._parser as sre_parse  # the parse tree of a pattern: its quantifiers and their bounds

import pytest

from prodlike.anonymizers import freetext, names, patterns
from prodlike.anonymizers import scan as scanner
from prodlike.anonymizers.base import ColumnInfo
from prodlike.anonymizers.policy import ColumnShape
from prodlike.anonymizers.registry import get
from prodlike.anonymizers.transformers import regex_redact

KEY = b"patterns-key-0123456789-0123456789-0123"
ON_USER_DATA = {"email": patterns.EMAIL, "card": patterns.CARD, "ipv4": patterns.IPV4, "ipv6": patterns.IPV6,
                "phone": patterns.PHONE, "date": patterns._DATE, "name words": names.WORD,
                "scanner ip": scanner._IP, "scanner card": scanner._CARD, "digit runs": freetext.RUN,
                "long digit runs": freetext.LONG_RUN, "ascii digit runs": freetext.LONG_RUN_ASCII,
                "name tokens": freetext.NAME_TOKEN, "ascii name tokens": freetext.NAME_TOKEN_ASCII,
                "local part before @": patterns._LOCAL_BEFORE, "ipv6 hint": regex_redact.IPV6_HINT}
REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", None)}


def _largest_repeat(tree) -> int:
    """The largest upper bound of any quantifier in a parse tree (MAXREPEAT: unbounded)."""
    top = 0
    for op, arg in tree:
        if op in REPEATS:
            low, high, sub = arg
            top = max(top, high, _largest_repeat(sub))
        elif op in (sre_parse.SUBPATTERN,):
            top = max(top, _largest_repeat(arg[-1]))
        elif op == sre_parse.BRANCH:
            top = max(top, *(_largest_repeat(b) for b in arg[1]))
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            top = max(top, _largest_repeat(arg[1]))
    return top


@pytest.mark.parametrize("name", list(ON_USER_DATA))
def test_every_quantifier_on_user_data_is_bounded(name):
    """An unbounded `+` or `*` before a literal that never comes costs the rest of the value at every start
    position: quadratic (the old e-mail pattern took 8 s on one 100 KB value). Bounded, each start costs at most
    a constant, so a scan is linear."""
    largest = _largest_repeat(sre_parse.parse(ON_USER_DATA[name].pattern))
    assert largest < sre_parse.MAXREPEAT, f"{name}: an unbounded quantifier"
    assert largest <= 253


BIG = 200_000
HUGE_VALUES = [
    "x" * BIG + " write to anna.smith@corp.example",        # a long local-part-like run before an e-mail
    "a." * (BIG // 2) + "@" + "b." * 1000 + "c",              # dots everywhere around an @
    "1 " * (BIG // 2),                                        # digit groups everywhere (phone candidates)
    "Anna " * (BIG // 5),                                     # dictionary names everywhere
]


@pytest.mark.parametrize("value", HUGE_VALUES, ids=["long-run", "dots", "digit-groups", "names"])
def test_a_200_kb_value_is_redacted_and_scanned(value):
    t = get("regex_redact")({}, KEY, ColumnInfo())
    out = t.one(value)
    assert "anna.smith@corp.example" not in out and " Anna " not in out
    assert t.many([value]) == [out]
    finding = scanner.classify("public.t", ColumnShape("body", "text", "S", "text"), [value])
    assert finding.suggestion in ("regex_redact", "full_name", "keep")  # judged on its first 4096 characters


@pytest.mark.parametrize("value, phone", [
    ("(5) 555-4729", True),            # Mexico City, national format
    ("030-0074321", True),             # Berlin, national format with trunk prefix
    ("(171) 555-7788", True),          # London (old), area code in parentheses
    ("+49 30 1234567", True),          # international
    ("0049 30 1234567", True),         # international with 00
    ("+44 (0) 20 7946 0958", True),    # international with the trunk prefix in parentheses
    ("2024-03-01", False),             # a date
    ("10.1.2.3", False),               # an IPv4 address
    ("12345", False),                  # too few digits
    ("1234.5678", False),              # a decimal number
    ("4111 1111 1111 1111", False),    # a card number (16 digits)
])
def test_phones_in_national_and_international_formats(value, phone):
    assert patterns.is_whole_phone(value) is phone
    assert (len(list(patterns.phones(f"call {value} now"))) == 1) is phone


def test_the_scanner_calls_national_phones_phones_not_ips():
    values = ["(5) 555-4729", "030-0074321", "(171) 555-7788", "0621-08460", "(91) 555 94 44"] * 10
    finding = scanner.classify("public.customers", ColumnShape("contact_no", "varchar", "S", "varchar(24)"), values)
    assert finding.suggestion == "phone" and finding.evidence == "50/50 values match phone"


def test_regex_redact_replaces_national_phones_keeping_their_format():
    t = get("regex_redact")({}, KEY, ColumnInfo())
    out = t.one("Ring (171) 555-7788 or 030-0074321.")
    assert re.fullmatch(r"Ring \(\d{3}\) \d{3}-\d{4} or \d{3}-\d{7}\.", out), out
    assert "555-7788" not in out and "0074321" not in out


def test_the_longest_date_is_what_is_phone_assumes():
    """is_phone() skips the date pattern for candidates longer than DATE_CHARS: no date match is longer."""
    assert sre_parse.parse(patterns._DATE.pattern).getwidth()[1] == patterns.DATE_CHARS
