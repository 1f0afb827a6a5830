"""Person names inside free text: words matched against the row's own name columns and the name dictionaries,
replaced by the anonymized names those columns get (keyed, deterministic); linear in the text's length."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from . import pools

WORD = re.compile(r"[^\W\d_]{2,64}")  # letters only; bounded (a longer run is cut into words of 64: still linear)
_SPLIT = re.compile(r"([^\W\d_]{2,64})")  # split() keeps the words as every other part
# On ASCII text: a whole run of 3 to 64 letters starting with a capital (the form of every capitalised dictionary
# name, forms()); it starts with a plain range, so the scan skips other characters in C.
CAPITALISED = re.compile(r"[A-Z](?<![A-Za-z].)[A-Za-z]{2,63}(?![A-Za-z])")
# ASCII text with every letter written 'a' and every other character '.': a run of more than 64 letters (where
# _SPLIT cuts words inside a run) is then a plain substring.
_LETTER_SHAPE = str.maketrans({c: "a" if c.isalpha() else "." for c in map(chr, range(128))})
_LONG_RUN_SHAPE = "a" * 65
# Capitalised words that the name dictionaries hold but that are mostly ordinary words or places in free text.
COMMON = frozenset("""Job Joy Jet Guy Will May June August April Long White Black Brown Green Young King Rose Hope
Grace Faith Page Bay Hill Ray Fox Bell Lane Park North West South East Mark Bill Art Case Bond Star Day Law Love
Best Hall Ward Wood Stone Cook Baker Miller Small Strong Major Price Sale Monday Friday Sunday Dear Hello Thanks
Paris London Berlin Sky Summer Winter Rich Sharp Hunt Street Road Avenue""".split())


@cache
def dictionary() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, last names) of the pools, lower-cased, at least 3 letters, common words left out."""
    common = {w.lower() for w in COMMON}

    def words(pool: tuple[str, ...]) -> frozenset[str]:
        return frozenset(w.lower() for n in pool for w in WORD.findall(n) if len(w) >= 3 and w.lower() not in common)

    return words(pools.first_names()), words(pools.last_names())


def like(original: str, replacement: str) -> str:
    """The replacement in the original's case: upper, lower or as it is (title case)."""
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original.islower():
        return replacement.lower()
    return replacement


def row_words(pairs: list[tuple[str | None, str | None]]) -> dict[str, str]:
    """Lower-cased words of a row's production names -> their anonymized counterparts: word by word where both
    names have the same number of words; a one-word name to the whole anonymized name; else the i-th word to the
    anonymized name's i-th word (its last one beyond)."""
    out: dict[str, str] = {}
    for raw, anon in pairs:
        if not raw or not anon:
            continue
        theirs, ours = WORD.findall(raw), WORD.findall(anon)
        if not ours:
            continue
        for i, word in enumerate(theirs):
            low = word.lower()
            if low not in out:
                out[low] = anon.strip() if len(theirs) == 1 else ours[min(i, len(ours) - 1)]
    return out


def replace_names(text: str, row: dict[str, str], pick: Callable[[str, bool], str] | None) -> str:
    """The text with every word of `row` (any case) replaced by its counterpart and, when `pick` is given, every
    capitalised dictionary name by pick(word, is_first_name). The words found are looked up once each; the text
    is rebuilt only when one of them is replaced."""
    parts = _SPLIT.split(text)
    if len(parts) == 1:
        return text
    words = set(parts[1::2])
    mapping = {}
    for word in words & forms() if pick is not None else ():
        mapping[word] = like(word, pick(word, word.lower() in dictionary()[0]))
    for low, new in row.items():
        for word in (low, low.capitalize(), low.upper(), low.title()):
            if word in words:
                mapping[word] = like(word, new)
    if len(row) and len(words) > len(mapping):  # any other casing of a row's name (McDonald, mcDonald)
        rest = words.difference(mapping)
        for word, low in zip(rest, map(str.lower, rest)):
            if low in row:
                mapping[word] = like(word, row[low])
    if not mapping:
        return text
    get = mapping.get
    return "".join([get(part, part) for part in parts])


def plain_text(text: str) -> bool:
    """Whether replace_names_plain() takes a text: ASCII, with no run of more than 64 letters (every word then a
    whole run of letters)."""
    return text.isascii() and _LONG_RUN_SHAPE not in text.translate(_LETTER_SHAPE)


def plain_row(row: dict[str, str]) -> bool:
    """Whether replace_names_plain() takes a row: its words all lower-case ASCII letters, 2 to 64 of them."""
    if not row:
        return True
    words = "".join(row)
    return (words.isascii() and words.isalpha() and words.islower()
            and min(map(len, row)) >= 2 and max(map(len, row)) <= 64)


def replace_names_plain(text: str, row: dict[str, str], pick: Callable[[str, bool], str] | None) -> str:
    """replace_names() of a plain_text() with a plain_row(), the same output, without splitting the text into all
    its words: the only words it can replace are capitalised dictionary forms (whole runs that CAPITALISED finds)
    and the row's words in any case (found in the lower-cased text); each is replaced wherever it is a whole run,
    by like(word, its row counterpart), else by like(word, pick(word, is_first_name))."""
    spans: dict[int, str] = {}
    if pick is not None:
        for word in forms().intersection(CAPITALISED.findall(text)):
            if word.lower() not in row:  # else the row's words find it
                _whole_runs(text, word, text, spans)
    if row:
        lowered = text.lower()
        for word in row:
            _whole_runs(lowered, word, text, spans)
    if not spans:
        return text
    firsts = dictionary()[0]
    mapping = {}
    for word in set(spans.values()):
        low = word.lower()
        new = row.get(low)
        mapping[word] = like(word, new if new is not None else pick(word, low in firsts))
    pieces, done = [], 0
    for at in sorted(spans):
        word = spans[at]
        pieces += [text[done:at], mapping[word]]
        done = at + len(word)
    pieces.append(text[done:])
    return "".join(pieces)


def _whole_runs(searched: str, word: str, text: str, spans: dict[int, str]) -> None:
    """Add to spans (start -> the text's word there) every place where `word` is a whole run of letters of
    `searched` (the text, or the text lower-cased: ASCII, so of the same length)."""
    at, size, end_of_text = searched.find(word), len(word), len(searched)
    while at >= 0:
        end = at + size
        if (at == 0 or not searched[at - 1].isalpha()) and (end == end_of_text or not searched[end].isalpha()):
            spans[at] = text[at:end]
        at = searched.find(word, end)


def replace_name_list(text: str, row: dict[str, str], pick: Callable[[str, bool], str]) -> str:
    """A list of person names (a cast, authors: 'Ama Qamata, Khosi Ngema'): every capitalised word is a name,
    replaced by the row's counterpart or by pick(word, is_first_word_of_its_item); the list's shape stays."""
    parts = _SPLIT.split(text)
    first = True
    for i in range(1, len(parts), 2):
        if "," in parts[i - 1] or ";" in parts[i - 1]:
            first = True
        word = parts[i]
        if word[0].isupper():
            new = row.get(word.lower())
            parts[i] = like(word, new if new is not None else pick(word, first))
            first = False
    return "".join(parts)


@cache
def forms() -> frozenset[str]:
    """The capitalised forms (Anna, ANNA) of every dictionary name: a text's words are matched against them at
    once (a set intersection)."""
    first, last = dictionary()
    return frozenset(f for w in first | last for f in (w.capitalize(), w.upper(), w.title()))


def leaks(text: str, row_names: set[str], words: int = 1) -> bool:
    """Whether a text still holds `words` (distinct) of the row's production name words (any case, whole words)."""
    found = {w.lower() for w in WORD.findall(text)} & row_names
    return len(found) >= min(words, len(row_names))
