"""PII scan: suggest a transformer per column from its name, type and a sample of its values; evidence is
reported as counts only ("23/100 values match email"), never as values."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from . import pools
from .names import dictionary as names_dictionary
from .patterns import CARD, EMAIL, IPV4, IPV6, SCAN_CHARS, emails, is_whole_phone, phones
from .policy import KEEP, ColumnShape, suggest

_IP = re.compile(rf"(?:{IPV4.pattern}|{IPV6.pattern})(?:/\d{{1,3}})?")
_CARD = re.compile(r"(?:\d[ -]?){12,18}\d")
# Whole values (stripped) that are one e-mail, IP, phone or card number; fullmatch on a stripped value keeps them
# linear (no unbounded \s* around them).
_FULL = {
    "email": EMAIL.fullmatch,
    "ip": _IP.fullmatch,
    "phone": is_whole_phone,
    "card": _CARD.fullmatch,
}
_INSIDE = {"email": lambda v: next(emails(v), None), "phone": lambda v: next(phones(v), None), "card": CARD.search,
           "ip": IPV4.search}
# A comma-separated list of 2-4-word capitalised names (a cast, authors); bounded, so linear.
_NAME = r"[^\W\d_][\w.'\-]{0,40}(?: [^\W\d_][\w.'\-]{0,40}){1,3}"
_NAME_LIST = re.compile(rf"{_NAME}(?:, ?{_NAME}){{0,200}}")
MIN_SHARE = 0.3  # share of sampled values matching a pattern that counts as evidence
CATEGORICAL = "categorical"  # evidence of a keep that init marks for review
MIN_CATEGORICAL, MAX_CATEGORIES, CATEGORY_REPEATS, CATEGORY_CHARS = 20, 60, 4, 40


@dataclass
class Finding:
    table: str
    column: str
    type_sql: str
    suggestion: str
    evidence: str
    current: str | None = None  # the configured rule, when there is one
    params: dict = field(default_factory=dict)  # the suggestion's parameters, when it needs any


def luhn(digits: str) -> bool:
    d = [int(c) for c in digits if c.isdigit()]
    if len(d) < 13:
        return False
    total = sum(d[-1::-2]) + sum(sum(divmod(2 * x, 10)) for x in d[-2::-2])
    return total % 10 == 0


def _strings_in(value: str) -> list[str]:
    try:
        doc = json.loads(value)
    except ValueError:
        return [value]
    out: list[str] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            out.append(node)
    return out


def _categorical(sample: list[str]) -> int | None:
    """The number of distinct values when a sample looks categorical (country, status, gender-like codes, enum-like
    text): at least MIN_CATEGORICAL values, short, each repeated CATEGORY_REPEATS times on average, at most
    MAX_CATEGORIES of them; else None."""
    if len(sample) < MIN_CATEGORICAL or any(len(v) > CATEGORY_CHARS for v in sample):
        return None
    distinct = len(set(sample))
    return distinct if distinct <= MAX_CATEGORIES and distinct * CATEGORY_REPEATS <= len(sample) else None


def classify(table: str, col: ColumnShape, sample: list[str]) -> Finding:
    """Suggest a transformer for one column from its sampled (non-NULL) values and its name."""
    by_name = suggest(col, table)
    n = len(sample)
    if n == 0:
        return Finding(table, col.name, col.type_sql, by_name, "no values sampled; suggestion from name and type")
    is_json = col.type_name in ("json", "jsonb")
    sample = [v[:SCAN_CHARS] for v in sample]  # a documented cap: huge values are judged by their start
    texts = [s.strip() for v in sample for s in (_strings_in(v) if is_json else [v])]
    whole = {k: sum(1 for v in texts if match(v) and (k != "card" or luhn(v))) for k, match in _FULL.items()}
    inside = {k: sum(1 for v in sample if find(v)) for k, find in _INSIDE.items()}
    names = set(pools.first_names()) | set(pools.last_names())
    name_hits = sum(1 for v in texts if v.strip() and all(part in names for part in v.split()[:2]))
    if is_json:
        hits = {k: c for k, c in inside.items() if c}
        if hits:
            kinds = ", ".join(f"{c}/{n} documents contain {k}" for k, c in hits.items())
            return Finding(table, col.name, col.type_sql, "json", kinds)
        return Finding(table, col.name, col.type_sql, "json", f"0/{n} documents show PII patterns; json "
                       f"(redacting strings) until reviewed, never keep")
    best = max(whole, key=whole.get)
    if whole[best] >= MIN_SHARE * n:
        kind = {"card": "hash"}.get(best, best)
        return Finding(table, col.name, col.type_sql, kind, f"{whole[best]}/{n} values match {best}")
    if name_hits >= MIN_SHARE * n and by_name in (KEEP, "regex_redact"):
        return Finding(table, col.name, col.type_sql, "full_name", f"{name_hits}/{n} values look like person names")
    firsts = names_dictionary()[0]
    lists = sum(1 for v in texts if _NAME_LIST.fullmatch(v) and ("," in v or v.split()[0].lower() in firsts))
    if lists >= MIN_SHARE * n and by_name in (KEEP, "regex_redact"):
        return Finding(table, col.name, col.type_sql, "regex_redact", f"{lists}/{n} values are lists of person "
                       f"names", params={"name_list": True})
    embedded_hits = {k: c for k, c in inside.items() if c}
    if embedded_hits and col.type_category == "S":
        kinds = ", ".join(f"{c}/{n} values contain {k}" for k, c in embedded_hits.items())
        return Finding(table, col.name, col.type_sql, by_name if by_name != KEEP else "regex_redact", kinds)
    categories = _categorical(sample) if col.type_category in ("S", "N") else None
    if categories is not None and (by_name in (KEEP, "regex_redact") or col.type_category == "N"):  # a numeric
        # code of a few values (creditcardtype 1-5) is no card number, whatever its name says
        return Finding(table, col.name, col.type_sql, KEEP, f"{CATEGORICAL}: {categories} distinct values in {n} "
                       f"sampled, none matches a PII pattern")
    if by_name != KEEP:
        return Finding(table, col.name, col.type_sql, by_name, f"name and type suggest {by_name}; "
                       f"0/{n} values match a PII pattern")
    return Finding(table, col.name, col.type_sql, KEEP, f"0/{n} values match a PII pattern")
