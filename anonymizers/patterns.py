"""PII patterns inside text (e-mails, cards, IPs, phones), linear on any value: every quantifier is bounded, so
the work per start position is bounded too; phone candidates are confirmed by `phonenumbers` (libphonenumber)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

import phonenumbers

# Bounded quantifiers only (tests/anonymizers/test_patterns.py checks the parse trees): an unbounded `+` before a
# literal that never comes (an '@') costs the rest of the text at every start position, i.e. quadratic time.
EMAIL = re.compile(r"[A-Za-z0-9._%+\-\u00C0-\u024F]{1,64}@[A-Za-z0-9.\-]{1,253}\.[A-Za-z]{2,63}")
_LOCAL_BEFORE = re.compile(r"[A-Za-z0-9._%+\-\u00C0-\u024F]{0,64}")  # EMAIL's local part, read backwards
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
IPV6 = re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b")
# A phone candidate: an optional + or 00, then digit groups (one may be in parentheses) joined by short runs of
# spaces, dashes, dots or slashes. Only candidates that is_phone() confirms are phones.
# The lookbehind is shared by the three forms: checked once per start position, not once per form.
PHONE = re.compile(r"(?<![\w+\-.])(?:(?:\+|00)?(?:\(\d{1,5}\)|\d{1,8})"
                   r"(?:[ \-./]{1,3}(?:\(\d{1,5}\)|\d{1,8})){0,7}(?![\w@])"
                   r"|\(\d{1,5}\)\d{2,8}(?:[ \-./]{1,3}\d{1,8}){0,6}(?![\w@])"
                   r"|(?:\+|00)\d{7,15}(?![\w@]))")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
DATE_CHARS = 10  # the longest _DATE match
_DIGITS = re.compile(r"\d")
_NO_DIGITS = str.maketrans("", "", "0123456789")
# National numbers (no country code) count as phones when one of these numbering plans allows their length.
REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "BR", "MX", "IN", "AU")
MIN_DIGITS, MAX_DIGITS = 7, 15  # E.164 allows 15 digits; shorter runs are extensions, amounts, codes
SCAN_CHARS = 4096  # the scanner reads at most this many characters of a value (init/scan sample bounded bytes)


@lru_cache(maxsize=1 << 16)
def is_phone(candidate: str) -> bool:
    """Whether a PHONE candidate is a phone number: 7 to 15 digits; international ones (+ or 00) possible for
    their country code (libphonenumber parses them), national ones written in groups or with an area code in
    parentheses, not shaped like a date or an IPv4 address, of a length one of REGIONS' plans allows."""
    digits = (len(candidate) - len(candidate.translate(_NO_DIGITS)) if candidate.isascii()
              else len(_DIGITS.findall(candidate)))
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        return False
    text = candidate.strip()
    if text.startswith(("+", "00")):
        return _possible(ascii_digits("+" + text.lstrip("+")[2 if text.startswith("00") else 0:]), None)
    grouped = "(" in text or " " in text or "-" in text or "/" in text or text.count(".") >= 2
    if not grouped or digits not in national_lengths():
        return False
    # an IPv4 address has three dots: most phones skip both patterns (is_date: by their length)
    return not (is_date(text) or (text.count(".") == 3 and IPV4.fullmatch(text)))


def ascii_digits(text: str) -> str:
    """The text with the digits of other scripts (what \\d also matches: Arabic-Indic, Devanagari, full-width ...)
    written as ASCII digits of the same value."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def in_script_of(original: str, new: str) -> str:
    """`new` (ASCII digits where `original`, as long, has digits of another script) with those digits written in
    the original's script (each script's digits 0-9 are contiguous in Unicode); `new` itself when their lengths
    differ."""
    if original.isascii() or len(original) != len(new):
        return new
    return "".join(chr(ord(c) - unicodedata.decimal(c) + int(d)) if c.isdecimal() and not c.isascii() and d.isdigit()
                   and d.isascii() else d for c, d in zip(original, new))


def is_date(text: str) -> bool:
    """Whether a text is one date (2024-01-05, 12/31/2020, 31.12.2020), as is_phone() tells them from phones."""
    return len(text) <= DATE_CHARS and _DATE.fullmatch(text) is not None


@lru_cache(maxsize=1)
def national_lengths() -> frozenset[int]:
    """Digit counts a national number may have in one of REGIONS' numbering plans (libphonenumber's metadata),
    within MIN_DIGITS..MAX_DIGITS. (Parsing each national candidate for every region would say no more than
    this: a national number has no country code to check, and it costs 14 us a parse.)"""
    found: set[int] = set()
    for region in REGIONS:
        desc = phonenumbers.PhoneMetadata.metadata_for_region(region).general_desc
        found.update(desc.possible_length or ())
        found.update(desc.possible_length_local_only or ())
        found.update(n + 1 for n in desc.possible_length or ())  # written with a trunk prefix (0, 1)
    return frozenset(n for n in found if MIN_DIGITS <= n <= MAX_DIGITS)


def _possible(text: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(text, region))
    except phonenumbers.NumberParseException:
        return False


def emails(text: str) -> Iterator[re.Match]:
    """The e-mail addresses inside a text, as EMAIL.finditer finds them, but searched only around each '@' (from
    the start of the run of local-part characters before it, at most 64, to the longest domain after it): a long
    run without an '@' costs nothing. (No match starts earlier in that window: it would hold an earlier '@', whose
    own search found it.)"""
    pos = 0
    while (at := text.find("@", pos)) >= 0:
        start = max(pos, at - 64)
        local = _LOCAL_BEFORE.match(text[start:at][::-1])
        m = EMAIL.search(text, at - local.end(), at + 320)
        if m is not None and m.start() <= at:
            yield m
            pos = m.end()
        else:
            pos = at + 1


def phones(text: str) -> Iterator[re.Match]:
    """The phone numbers inside a text, as matches."""
    return (m for m in PHONE.finditer(text) if is_phone(m.group(0)))


def is_whole_phone(value: str) -> bool:
    """Whether a whole value (surrounding spaces aside) is one phone number."""
    text = value.strip()
    return bool(PHONE.fullmatch(text)) and is_phone(text)


def identifiers(text: str) -> set[str]:
    """The e-mails and phone numbers a text holds."""
    found = {m.group(0) for m in emails(text)}
    return found | {m.group(0) for m in phones(text)}


def kept_pii(raw: str, out: str) -> bool:
    """Whether `out` still holds an e-mail or phone number of `raw` (as a whole match, not a substring)."""
    theirs = identifiers(raw)
    return bool(theirs) and bool(theirs & identifiers(out))
