"""The joined free-text scan (anonymizers/freetext.py) replaces exactly what a text-by-text scan replaces: the
same e-mails, cards, IPs, phones and dictionary names, in texts of every shape the shortcuts could get wrong."""

from __future__ import annotations

import os
import random

import pytest

from prodlike.anonymizers import freetext
from prodlike.anonymizers import names as free_names
from prodlike.anonymizers.base import Batch, ColumnInfo
from prodlike.anonymizers.patterns import ascii_digits
from prodlike.anonymizers.registry import get
from prodlike.anonymizers.transformers.regex_redact import PATTERNS

KEY = b"freetext-key-0123456789-0123456789-012345"
FUZZ = int(os.environ.get("PRODLIKE_FREETEXT_FUZZ", "3000"))  # texts of random pieces

CASES = [
    "030-1234567",                                        # a whole value that is one phone (runs at both edges)
    "call 030-1234567",                                   # a phone at the end of the text
    "(030) 1234-567 is the office",                       # at the start, area code in parentheses
    "+49 30 1234567, or 0049 30 7654321.",                # international, + and 00
    "card 4111 1111 1111 1111 then 10.1.2.3 then 2026-01-02",  # card, IPv4, a date (no phone)
    "mail anna.smith@corp.example or 030-1234567",        # an e-mail beside a phone
    "x@y.example@z.example 030 1234567@w.example",        # '@' next to '@', digits in a local part
    "fe80::1 and 2001:db8:0:0:1:0:0:1 with 030-1234567",  # IPv6: the text-by-text path
    "1 " * 300 + "030-1234567",                           # a digit run longer than the run bound (254)
    "-" * 300 + "030-1234567" + "." * 300,                # separators around a phone
    "Dear Anna, Maria and SMITH; anna stays lower case.", # dictionary names in three cases
    "AnnaSmith Kim9Weber (Anna) 'Maria'",                 # names glued to letters, digits, brackets
    "Zoë Ñúñez and José wrote to Ørsted",                 # non-ASCII names and text
    "٠٣٠-١٢٣٤٥٦٧ and 030-1234567",                        # Arabic-Indic digits (non-ASCII path)
    "",                                                   # empty
    "(((( ++++ ))))",                                     # start characters without digits
]


def _reference(t, texts: list[str]) -> list[str]:
    """The text-by-text scan, one pattern at a time (digits counted before each), then dictionary names."""
    out = list(texts)
    for pattern in PATTERNS:
        out = t._text_by_text(out, [pattern])
    return [t._fit(free_names.replace_names(v, {}, t.pick)) for v in out]


def _fuzz(n: int) -> list[str]:
    rnd = random.Random(16)
    pieces = (list("0123456789") * 5 + list(" -./()+:@,") * 2 + list("x_Z") + [
        "Anna", "Smith", "Kim", "Weber", "x@y.example", "+49 30 1234567", "10.1.2.3", "4111 1111 1111 1111",
        "(030) 1234-567", "00", "\n", "é", "\x01", "A" * 70, "1 " * 130,
        "2024-01-05", "12/31/2020", "31.12.2020", "(5) 555-4729", "030-0074321", "1.2.3", "0049-12-31", "00-12-2020",
        "12/00/2020", "1.1.2020."])
    return ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 40))) for _ in range(n)]


@pytest.mark.parametrize("params", [{}, {"names": False}])
def test_the_joined_scan_replaces_what_the_text_by_text_scan_replaces(params):
    t = get("regex_redact")(params, KEY, ColumnInfo())
    texts = CASES + _fuzz(FUZZ)
    expected = _reference(t, texts) if params.get("names", True) else [
        t._fit(v) for v in _reference_patterns(t, texts)]
    got = t.many(texts)
    wrong = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
    assert not wrong, f"{len(wrong)} texts differ, first at index {wrong[0]}"
    assert [t.one(v) for v in CASES] == got[:len(CASES)]


def _reference_patterns(t, texts: list[str]) -> list[str]:
    out = list(texts)
    for pattern in PATTERNS:
        out = t._text_by_text(out, [pattern])
    return out


def test_a_phone_and_a_name_in_the_benchmark_note_are_replaced():
    t = get("regex_redact")({}, KEY, ColumnInfo())
    note = "Dear Anna Smith, call 030-1234567 or mail anna.smith1@mail.example. Kind regards, Kim Weber"
    out = t.one(note)
    for kept in ("Anna", "Smith", "1234567", "anna.smith1@mail.example", "Weber"):
        assert kept not in out


def test_runs_are_joined_back_where_the_bound_cut_them():
    text = "+49 " + "1 " * 200 + "(030) 1234567"
    parts = freetext.runs(text)
    assert parts[1::2] == [text]  # one run, however long


def test_a_name_glued_inside_more_than_64_letters_is_not_a_word():
    """The text-by-text scan cut such a run into words of 64 letters and replaced a name that filled one; the
    joined scan only looks at whole runs (on purpose: no name is written that way)."""
    t = get("regex_redact")({}, KEY, ColumnInfo())
    glued = "x" * 64 + "Anna"
    assert t.one(glued) == glued


def _names_fuzz(n: int, seed: int) -> list[tuple[str, dict[str, str]]]:
    """Texts of name-like words in every casing, glued or cut by other characters, with a row of name words."""
    rnd = random.Random(seed)
    words = ["Anna", "anna", "ANNA", "aNNa", "Smith", "SMITH", "Kim", "Weber", "McDonald", "mcdonald", "MCDONALD",
             "Li", "li", "Jo", "Maria", "Dear", "x", "Z", "ab", "Annabel", "Annas", "Kowalski", "A" * 64, "b" * 63,
             "Zoë", "STRASSE"]
    between = [" ", ", ", ".", "-", "'", "1", "_", "\n", "@", "(", "", "9 ", "Ab"]
    row_words = ["anna", "smith", "mcdonald", "li", "kim", "weber", "maria", "jo", "annas", "zoë", "straße"]
    news = ["Maria Eduarda", "Zed", "Ola", "Smith", "Anna", "Li Wei"]
    return [("".join(rnd.choice(words) + rnd.choice(between) for _ in range(rnd.randint(0, 12))),
             {w: rnd.choice(news) for w in rnd.sample(row_words, rnd.randint(0, 3))}) for _ in range(n)]


def test_row_names_found_without_splitting_the_text_are_those_replace_names_replaces():
    """names.replace_names_plain (the row-names path's shortcut) against names.replace_names (every word of the
    text split out), with no dictionary names, with them, and with them avoiding the row's words."""
    t = get("regex_redact")({}, KEY, ColumnInfo())
    cases = [(text, row) for text, row in _names_fuzz(max(FUZZ, 1000) * 4, 17)
             if free_names.plain_text(text) and free_names.plain_row(row)]
    assert len(cases) > max(FUZZ, 1000) * 2  # most generated cases take the shortcut
    for text, row in cases:
        for pick in (None, t.pick, lambda w, first, avoid=frozenset(row): t.pick(w, first, avoid)):
            assert free_names.replace_names_plain(text, row, pick) == free_names.replace_names(text, row, pick), (
                f"differs on case {cases.index((text, row))}")


def test_the_row_names_path_replaces_what_replace_names_replaces_row_by_row():
    """transform() with the row's name columns bound (plain texts and rows through the shortcut, the others word
    by word) against the straightforward form: patterns, then replace_names() row by row."""
    t = get("regex_redact")({}, KEY, ColumnInfo())
    siblings = {"first_name": get("first_name")({}, KEY, ColumnInfo()),
                "last_name": get("last_name")({}, KEY, ColumnInfo())}
    t.bind({**siblings, "notes": t})
    rnd = random.Random(18)
    texts = [text for text, _ in _names_fuzz(2000, 19)] + CASES + _fuzz(500)
    firsts = [rnd.choice(["Anna", "Maria", "Zoë", "Mary Ann", None, "Li"]) for _ in texts]
    lasts = [rnd.choice(["Smith", "McDonald", "Straße", None, "Weber"]) for _ in texts]
    values = [None if i % 37 == 0 else v for i, v in enumerate(texts)]
    batch = Batch({"first_name": firsts, "last_name": lasts, "notes": values})
    theirs = t.production_words(batch, len(values))
    redacted = dict(zip([v for v in values if v is not None], t._patterns([v for v in values if v is not None])))
    expected = [None if v is None else t._fit(free_names.replace_names(
        redacted[v], row, lambda w, first, avoid=avoid: t.pick(w, first, avoid)))
        for v, row, avoid in zip(values, t.row_names(batch, theirs), theirs)]
    assert t.transform(values, batch) == expected


@pytest.mark.parametrize("text, ascii_form", [
    ("call ٠٣٠-١٢٣٤٥٦٧ now", "call 030-1234567 now"),  # Arabic-Indic digits
    ("call ۰۳۰-۱۲۳۴۵۶۷ now", "call 030-1234567 now"),  # Extended Arabic-Indic (Persian) digits
    ("call ０３０ １２３４５６７", "call 030 1234567"),  # full-width digits
    ("call +४९ ३० १२३४५६७", "call +49 30 1234567"),  # Devanagari digits, an international number
    ("x ٠٣٠-1234567 y", "x 030-1234567 y"),  # scripts mixed in one number
])
def test_a_phone_in_digits_of_another_script_is_replaced_in_its_script(text, ascii_form):
    t = get("regex_redact")({}, KEY, ColumnInfo())
    out = t.one(text)
    assert out != text
    assert ascii_digits(out) == t.one(ascii_form)  # the same number as its ASCII form gets, in the text's script
    assert [c.isascii() for c in out] == [c.isascii() for c in text]
