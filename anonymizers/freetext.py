"""Free text scanned batch-wide: the texts joined by NUL (which PostgreSQL text never holds), each digit pattern run
only inside the stretches that can hold one of its matches, and dictionary names found by one scan of the batch."""

from __future__ import annotations

import re
from collections.abc import Callable

from .patterns import CARD, DATE_CHARS, IPV4, MIN_DIGITS, PHONE, emails, is_date, is_phone

SEP = "\x00"  # joins a batch's texts; a text holding one takes the text-by-text path
EDGE = "\x01"  # stands for a text's start or end beside a run (no pattern matches or reads it otherwise)
# Before a segment's left context: a word character, so that no match starts at the context character (a '(' or
# a digit after a letter may be one); every pattern's match starts after a non-word character or at a boundary.
_LOCK = "Z"
# A run of the characters a phone, card or IPv4 address is written with, from a character one can start with ('+',
# '(' or a digit): every match of those patterns lies inside one such run, so searching the runs alone finds them
# all. Bounded (linear); a run cut by the bound is joined back by runs(). LONG_RUN: those that can hold a match:
# FEWEST characters at least, from a start that follows no word character (every pattern's match starts so: a
# digit run inside a word, like an e-mail's hex tag, holds none); the others are skipped in C.
RUN = re.compile(r"([+(\d][\d()+\-./ ]{0,253})")
LONG_RUN = re.compile(r"([+(\d](?<!\w.)[\d()+\-./ ]{3,253})")
LONG_RUN_ASCII = re.compile(r"([+(0-9](?<![A-Za-z0-9_].)[0-9()+\-./ ]{3,253})")  # the same on ASCII text, faster
RUN_LONGEST = 254
_RUN_TAIL = " -./)"  # run characters that cannot start one
# Digit patterns in the order they are replaced, with the fewest digits and a character every match holds.
DIGIT_STAGES = (("card", CARD, 13, None), ("ipv4", IPV4, 4, "."), ("phone", PHONE, MIN_DIGITS, None))
FEWEST = min(fewest for _, _, fewest, _ in DIGIT_STAGES)
ANY_RUN_DIGITS = min(fewest for _, _, fewest, needs in DIGIT_STAGES if needs is None)  # a run this rich may hold one
DATE_DIGITS = DATE_CHARS - 2  # the most digits a date holds (two separators)
NEEDY_STAGES = tuple((fewest, needs) for _, _, fewest, needs in DIGIT_STAGES if needs is not None)
# The same patterns with ASCII classes (\d, \w, \b): on ASCII text they match alike, and faster.
ASCII_FORM = {pattern: re.compile(pattern.pattern, re.ASCII) for _, pattern, _, _ in DIGIT_STAGES}
_ONLY_DIGITS = str.maketrans("", "", "".join(c for c in map(chr, range(128)) if c not in "0123456789" + SEP))
_NO_CONTEXT = ("", SEP)  # a run's context at the start or end of a text
# A whole run of 3 to 64 letters not starting with a-z: the form every capitalised dictionary name has in a text
# (names.forms()). The first letter is matched by a plain range so the scan skips other characters in C.
NAME_TOKEN = re.compile(r"([A-Z\u00AA-\U0010FFFF](?<=[^\W\d_])(?<![^\W\d_].)[^\W\d_]{2,63}(?![^\W\d_]))")
NAME_TOKEN_ASCII = re.compile(r"([A-Z](?<![A-Za-z].)[A-Za-z]{2,63}(?![A-Za-z]))")  # the same on ASCII text


def runs(big: str) -> list[str]:
    """The text split into gaps and runs (the odd parts: every maximal run of FEWEST characters or more)."""
    parts = (LONG_RUN_ASCII if big.isascii() else LONG_RUN).split(big)
    if RUN_LONGEST not in map(len, parts[1::2]):
        return parts
    parts = _all_runs(big)
    for k in range(len(parts) - 2, 0, -2):  # a short run joins its gaps
        if len(parts[k]) < FEWEST:
            parts[k - 1:k + 2] = [parts[k - 1] + parts[k] + parts[k + 1]]
    return parts


def _all_runs(big: str) -> list[str]:
    """RUN.split(big), runs cut by RUN's bound joined back: the odd parts are the maximal runs."""
    parts = RUN.split(big)
    out, cut = [parts[0]], False
    for k in range(1, len(parts), 2):
        run, gap = parts[k], parts[k + 1]
        if cut and not out[-1].strip(_RUN_TAIL):  # the previous run went on through this gap
            out[-2] += out[-1] + run
            out[-1] = gap
        else:
            out += [run, gap]
        cut = len(run) == RUN_LONGEST
    return out


def replace_emails(big: str, anonymize: Callable[[str, list[str]], list[str]]) -> str:
    """Joined texts with their e-mails (patterns.emails: searched around each '@') replaced by anonymize("email",
    distinct matches). No match crosses a SEP, so the matches are those of each text on its own."""
    cuts = [m.span() for m in emails(big)]
    if not cuts:
        return big
    distinct = list(dict.fromkeys(big[a:b] for a, b in cuts))
    return splice(big, cuts, dict(zip(distinct, anonymize("email", distinct))))


def replace_digit_patterns(big: str, anonymize: Callable[[str, list[str]], list[str]]) -> str:
    """Joined texts with no IPv6 address: cards, IPv4 addresses and phones replaced stage by stage as a
    text-by-text scan would replace them (anonymize(kind, distinct matches) gives their new forms). Each run that
    holds enough digits for a match of some stage becomes a segment with one character of context on each side
    (what the patterns' lookarounds read; _LOCK before it); each stage runs once over its segments joined (those
    holding enough digits for one of its matches), and the segments go back in place."""
    parts = runs(big)
    if len(parts) == 1:
        return big
    counts = digit_counts(parts[1::2])
    where = [k for k, c in zip(range(1, len(parts), 2), counts)
             if (c >= ANY_RUN_DIGITS and c > DATE_DIGITS) or (c >= FEWEST and _may_match(c, parts[k]))]
    if not where:
        return big
    edge = _NO_CONTEXT  # a run's context at a text's start or end: EDGE stands for it
    segs = [_LOCK + (EDGE if (c := parts[k - 1][-1:]) in edge else c) + parts[k]
            + (EDGE if (c := parts[k + 1][:1]) in edge else c) for k in where]
    counts = [counts[k >> 1] for k in where]
    for kind, pattern, fewest, needs in DIGIT_STAGES:
        at = [j for j, c in enumerate(counts) if c >= fewest and (needs is None or needs in segs[j])]
        if not at:
            continue
        joined = SEP.join([segs[j] for j in at])
        found = (ASCII_FORM[pattern] if joined.isascii() else pattern).finditer(joined)
        cuts = ([m.span() for m in found if m.end() - m.start() >= MIN_DIGITS and is_phone(m.group(0))]
                if kind == "phone" else [m.span() for m in found])
        if cuts:
            distinct = list(dict.fromkeys(joined[a:b] for a, b in cuts))
            changed = splice(joined, cuts, dict(zip(distinct, anonymize(kind, distinct)))).split(SEP)
            for j, seg, count in zip(at, changed, digit_counts(changed)):
                segs[j], counts[j] = seg, count
    for k, seg in zip(where, segs):
        parts[k] = seg[2:-1]
    return "".join(parts)


def _may_match(count: int, run: str) -> bool:
    """Whether a run holding `count` digits (at most DATE_DIGITS of them, or fewer than ANY_RUN_DIGITS) may hold a
    match of some stage; a date does not (_date_run)."""
    if count >= ANY_RUN_DIGITS:
        return not _date_run(run)
    for fewest, needs in NEEDY_STAGES:
        if count >= fewest and needs in run:
            return not _date_run(run)
    return False


def _date_run(run: str) -> bool:
    """Whether a run is one date (2024-01-05, 12/31/2020, 31.12.2020), run characters after it aside, and does not
    start with 00 (an international prefix). It holds no card (too few digits), no IPv4 address (three groups,
    not four) and no phone: a phone candidate in it is the date (is_phone() says no) or some of its digit groups
    (fewer than MIN_DIGITS digits: at most two groups)."""
    date = run.rstrip(_RUN_TAIL)
    return not date.startswith("00") and is_date(date)


def digit_counts(texts: list[str]) -> list[int]:
    """How many digits each text holds, counted at once for ASCII texts (none holding SEP); for others an upper
    bound, their length (\\d matches other scripts' digits too)."""
    joined = SEP.join(texts)
    if not joined.isascii():
        return [len(text) for text in texts]
    return [len(kept) for kept in joined.translate(_ONLY_DIGITS).split(SEP)]


def replace_dictionary_names(big: str, forms: frozenset[str], replacement: Callable[[str], str]) -> str:
    """Joined texts with every whole word that is one of `forms` replaced by replacement(word), in one scan. (A
    name glued inside a run of more than 64 letters is not a whole word: it stays.)"""
    parts = (NAME_TOKEN_ASCII if big.isascii() else NAME_TOKEN).split(big)
    found = set(parts[1::2]) & forms
    if not found:
        return big
    mapping = {w: replacement(w) for w in found}
    get = mapping.get
    parts[1::2] = [get(w, w) for w in parts[1::2]]
    return "".join(parts)


def splice(text: str, cuts: list[tuple[int, int]], mapping: dict[str, str]) -> str:
    """The text with each cut [a, b) replaced by mapping[text[a:b]]."""
    pieces, at = [], 0
    for a, b in cuts:
        pieces += [text[at:a], mapping[text[a:b]]]
        at = b
    pieces.append(text[at:])
    return "".join(pieces)
