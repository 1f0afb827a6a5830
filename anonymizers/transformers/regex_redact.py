"""regex_redact: free text with e-mails, phones, card numbers, IPs and person names replaced by their anonymized
forms (the same transforms the email/phone/ip/first_name/last_name columns get); the rest of the text stays."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .. import names as free_names
from ..base import Batch, Transformer
from ..fpe import permute
from ..keys import Keyed
from ..patterns import CARD, IPV4, IPV6, MIN_DIGITS, emails, kept_pii, phones
from ..registry import register
from .email import Email
from .first_name import FirstName
from .ip import Ip
from .last_name import LastName
from .phone import Phone

# (kind, finder of its matches in a text, a character every match holds, the fewest digits a match holds): a text
# without that character or with fewer digits is skipped
PATTERNS = [("email", emails, "@", 0), ("card", CARD.finditer, None, 13), ("ipv6", IPV6.finditer, ":", 0),
            ("ipv4", IPV4.finditer, ".", 4), ("phone", phones, None, MIN_DIGITS)]
_NO_DIGITS = str.maketrans("", "", "0123456789")


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    names: bool = Field(True, description="Also replace person names: every word of the same row's name columns "
                                          "(first_name, last_name, full_name, email local part) and capitalised "
                                          "names of the first/last-name dictionaries.")
    name_list: bool = Field(False, description="The text is a list of person names (a cast, authors): every "
                                               "capitalised word is replaced by a first or last name.")


@register
class RegexRedact(Transformer):
    name = "regex_redact"
    description = ("Free text: e-mails, phones (libphonenumber), card numbers, IPs and person names (the row's "
                   "name columns, name dictionaries) replaced by their anonymized forms; the rest stays.")
    Params = Params
    partial = True
    min_width = 1  # a text longer than the column after replacement is cut to the column's length

    def __init__(self, params, key, column=None):
        super().__init__(params, key, column)
        self.card_keyed = Keyed(key, self.name, {})
        self.email, self.phone, self.ip = Email(None, key), Phone(None, key), Ip(None, key)
        self.first, self.last = FirstName(None, key), LastName(None, key)
        self.siblings: dict[str, Transformer] = {}
        self._picked: dict[tuple[str, bool], str] = {}

    def bind(self, siblings: dict[str, Transformer]) -> None:
        """Read the same row's person-name columns (their production values, and their anonymized values)."""
        if self.params.names:
            self.siblings = {c: t for c, t in siblings.items() if t.person_name and t is not self}
            self.reads = tuple(self.siblings)

    def _card(self, text: str) -> str:
        digits = [c for c in text if c.isdigit()]
        mapped = str(permute(self.card_keyed, int("".join(digits)), 10 ** len(digits), tweak="card")
                     ).zfill(len(digits))
        it = iter(mapped)
        return "".join(next(it) if c.isdigit() else c for c in text)

    def pick(self, word: str, first: bool, avoid: frozenset[str] | set[str] = frozenset()) -> str:
        """A dictionary name's replacement: what a first_name (last_name) column gets for it; never the word
        itself nor one of the `avoid` words (the row's production names): then the pool's next entry."""
        got = self._picked.get((word, first))
        t = self.first if first else self.last
        if got is None:
            got = t.one(word)
            if got.lower() == word.lower():
                got = t.pool[(t.pool.index(got) + 1) % len(t.pool)]
            self._picked[(word, first)] = got
        at = None
        while _clashes(got, word, avoid):
            at = t.pool.index(got) if at is None else at
            at = (at + 1) % len(t.pool)
            got = t.pool[at]
        return got

    def one(self, value):
        return self.many([value])[0]

    def many(self, values):
        out = self._patterns(values)
        if self.params.names or self.params.name_list:
            out = [self._names(v, {}, self.pick) for v in out]
        return [self._fit(v) for v in out]

    def _names(self, text: str, row: dict[str, str], pick) -> str:
        if self.params.name_list:
            return free_names.replace_name_list(text, row, pick)
        return free_names.replace_names(text, row, pick)

    def _patterns(self, values: list[str]) -> list[str]:
        """Pattern by pattern over the whole batch: each pattern's distinct matches are anonymized together by the
        column transformers' vectorized many(), then put back."""
        out = list(values)
        digits = [len(v) - len(v.translate(_NO_DIGITS)) for v in out]  # of the original text
        for kind, finder, needs, fewest in PATTERNS:
            spans = {}
            for i, v in enumerate(out):
                if (needs is None or needs in v) and digits[i] >= fewest:
                    found = [(m.start(), m.end()) for m in finder(v)]
                    if found:
                        spans[i] = found
            if not spans:
                continue
            found = dict.fromkeys(out[i][a:b] for i, cut in spans.items() for a, b in cut)
            mapping = dict(zip(found, self._many(kind, list(found))))
            for i, cut in spans.items():
                out[i] = _splice(out[i], cut, mapping)
        return out

    def transform(self, values, batch: Batch | None = None):
        """With the row's name columns: patterns over each distinct text once, then names row by row (the row's
        own names first, dictionary names after, none replaced by one of the row's production names)."""
        if not self.siblings or batch is None:
            return super().transform(values, batch)
        present = [v for v in dict.fromkeys(values) if v is not None]
        redacted = dict(zip(present, self._patterns(present)))
        theirs = self.production_words(batch, len(values))
        out = []
        for v, row, avoid in zip(values, self.row_names(batch, theirs), theirs):
            if v is None:
                out.append(None)
                continue
            pick = (lambda w, first, avoid=avoid: self.pick(w, first, avoid)) if self.params.names else None
            out.append(self._fit(self._names(redacted[v], row, pick or self.pick)
                                 if self.params.name_list else free_names.replace_names(redacted[v], row, pick)))
        return out

    def row_names(self, batch: Batch, theirs: list[set[str]]) -> list[dict[str, str]]:
        """Per row: its production name words -> the anonymized words (what its name columns get), none of them
        one of the row's production words."""
        pairs: list[list[tuple[str | None, str | None]]] = [[] for _ in theirs]
        for col, t in self.siblings.items():
            raw = batch.columns[col]
            anon = t.transform(raw)
            for i, (r, a) in enumerate(zip(raw, anon)):
                if r is not None and t.name == "email":  # its local part is the name
                    r, a = r.split("@", 1)[0], (a or "").split("@", 1)[0]
                pairs[i].append((r, a))
        rows = []
        for row, avoid in zip(pairs, theirs):
            words = free_names.row_words(row)
            rows.append({w: (new if not _clashes(new, w, avoid) else self.pick(new, True, avoid))
                         for w, new in words.items()})
        return rows

    def production_words(self, batch: Batch, n: int) -> list[set[str]]:
        """Per row: the lower-cased words of its production names (what the leak check looks for)."""
        out: list[set[str]] = [set() for _ in range(n)]
        for col, t in self.siblings.items():
            for i, r in enumerate(batch.columns[col]):
                if r is not None:
                    text = r.split("@", 1)[0] if t.name == "email" else r
                    out[i].update(w.lower() for w in free_names.WORD.findall(text))
        return out

    def leaked(self, inputs: list[str | None], outputs: list[str | None], batch: Batch | None = None,
               kept_as_is: bool = False) -> int:
        """Rows whose output still holds one of the row's production names, or an e-mail or phone of its input.
        `kept_as_is` (a text copied unchanged, judged as free text): a single name word is not counted (a city
        or a country that is also someone's surname), two are."""
        theirs = self.production_words(batch, len(inputs)) if self.siblings and batch is not None else None
        words = 2 if kept_as_is else 1
        count = 0
        for i, (raw, out) in enumerate(zip(inputs, outputs)):
            if raw is None or out is None:
                continue
            if (theirs and theirs[i] and free_names.leaks(out, theirs[i], words)) or kept_pii(raw, out):
                count += 1
        return count

    def _fit(self, text: str) -> str:
        limit = self.column.max_length
        return text if limit is None or len(text) <= limit else text[:limit]

    def _many(self, kind: str, texts: list[str]) -> list[str]:
        """The anonymized forms of one pattern's matches."""
        if kind == "email":
            return self.email.many(texts)
        if kind == "card":
            return [self._card(t) for t in texts]
        if kind in ("ipv4", "ipv6"):
            return self.ip.many(texts)
        return self.phone.many(texts)


def _clashes(new: str, word: str, avoid: frozenset[str] | set[str]) -> bool:
    """Whether a replacement would bring back the word itself or one of the row's production name words (a
    replacement may have several words: 'Maria Eduarda')."""
    found = {w.lower() for w in free_names.WORD.findall(new)}
    return word.lower() in found or bool(found & avoid)


def _splice(text: str, cuts: list[tuple[int, int]], mapping: dict[str, str]) -> str:
    """The text with each cut [a, b) replaced by mapping[text[a:b]]."""
    parts, at = [], 0
    for a, b in cuts:
        parts += [text[at:a], mapping[text[a:b]]]
        at = b
    parts.append(text[at:])
    return "".join(parts)
