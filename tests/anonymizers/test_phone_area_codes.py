"""The phone transformer keeps the area code: the first digit group of a number written in groups, and for a
compact international number (+14155550100) its validity in its country's plan (libphonenumber); injective."""

from __future__ import annotations

import phonenumbers
import pytest

from prodlike.anonymizers.base import ColumnInfo
from prodlike.anonymizers.registry import get

KEY = b"phone-area-key-0123456789-0123456789-0123"


def _phone():
    return get("phone")({}, KEY, ColumnInfo())


@pytest.mark.parametrize("value, kept", [
    ("+49 30 1234567", "+49 30 "),              # Berlin, international
    ("030-0074321", "030-"),                    # Berlin, national with the trunk prefix
    ("(171) 555-7788", "(171) "),               # area code in parentheses
    ("(5) 555-4729", "(5) "),                   # Mexico City, one-digit area code
    ("+44 (0) 20 7946 0958", "+44 (0) 20 "),    # a '(0)' trunk prefix: the group after it is the area code
    ("+1 415-555-0100", "+1 415-"),             # NANP
    ("+33 1 23 45 67 89", "+33 1 "),            # Paris
    ("+49 1512 3456789", "+49 1512 "),          # a mobile prefix is kept like an area code
    ("+49 30 123", "+49 "),                     # too few digits left to permute: nothing kept
    ("0301234567", ""),                         # compact national: its country is unknown, nothing kept
])
def test_the_first_group_is_kept(value, kept):
    t = _phone()
    out = t.one(value)
    assert out.startswith(kept) and out != value and len(out) == len(value)
    assert [c.isdigit() for c in out] == [c.isdigit() for c in value]
    assert t.many([value] * 70 + [value + "0"])[0] == out  # the vectorized path agrees


@pytest.mark.parametrize("region", ["US", "DE", "GB", "FR", "BR", "IN", "AU", "JP", "MX", "IT"])
def test_compact_international_numbers_stay_valid(region):
    example = phonenumbers.example_number(region)
    value = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    out = _phone().one(value)
    parsed = phonenumbers.parse(out, None)
    assert out != value and len(out) == len(value)
    assert phonenumbers.is_valid_number(parsed) and parsed.country_code == example.country_code


def test_grouped_numbers_stay_injective_at_one_million():
    values = [f"+49 {30 + i % 3} {i // 3:07d}" for i in range(1_000_000)]
    out = _phone().transform(values)
    assert len(set(out)) == len(values)
    assert all(o[:7] == v[:7] for o, v in zip(out[:1000], values[:1000]))


def test_compact_international_numbers_stay_injective():
    values = [f"+1415{i:07d}" for i in range(0, 10_000_000, 500)] + [f"+4930{i:08d}" for i in range(0, 10**8, 5000)]
    out = _phone().transform(values)
    assert len(set(out)) == len(values)


# zero in Arabic-Indic, Persian, full-width and Devanagari digits
@pytest.mark.parametrize("script_zero", ["\u0660", "\u06f0", "\uff10", "\u0966"])
def test_digits_of_other_scripts_are_replaced_in_their_script(script_zero):
    """A number written in another script's digits is permuted as the ASCII number of the same value (so its area
    code is kept too) and written back in its script: never copied as it is."""
    def written(text: str) -> str:
        return "".join(chr(ord(script_zero) + int(c)) if c.isdigit() else c for c in text)

    t = _phone()
    ascii_out = t.one("+49 30 1234567")
    value = written("+49 30 1234567")
    out = t.one(value)
    assert out != value and out == written(ascii_out)
    assert t.many([value] * 70)[0] == out
    many = [written(f"030-{i:07d}") for i in range(2_000)]
    outs = t.many(many)
    assert len(set(outs)) == len(many)  # injective
    assert all(o != v for o, v in zip(outs, many, strict=True))
