"""regex_redact: free text with e-mails, phones, card numbers, IPs and person names replaced by their anonymized
forms (the same transforms the email/phone/ip/first_name/last_name columns get); the rest of the text stays."""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from .. import freetext
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
CHUNK = 4096  # texts joined and scanned at once
IPV6_HINT = re.compile(r":[0-9A-Fa-f]{1,4}:")  # every IPV6 match holds one (its second group between colons)


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
        self._replacing: dict[str, str] = {}  # a dictionary name in free text -> its replacement (no row context)

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
        if self.params.name_list:
            out = [self._names(v, {}, self.pick) for v in self._redact(values, False)]
        else:
            out = self._redact(values, self.params.names)
        return out if self.column.max_length is None else [self._fit(v) for v in out]

    def _names(self, text: str, row: dict[str, str], pick) -> str:
        if self.params.name_list:
            return free_names.replace_name_list(text, row, pick)
        return free_names.replace_names(text, row, pick)

    def _patterns(self, values: list[str]) -> list[str]:
        """The texts with their e-mails, cards, IPs and phones replaced (no names)."""
        return self._redact(values, False)

    def _redact(self, values: list[str], names: bool) -> list[str]:
        """Pattern by pattern over each chunk of the batch, then (`names`) dictionary names: each pattern's distinct
        matches anonymized together by the column transformers' vectorized many(), then put back. The chunk's
        texts are joined (freetext): e-mails searched around each '@', cards, IPv4 addresses and phones inside
        digit runs only, names in one scan. A text holding an IPv6 address (or a NUL) is searched on its own, every
        pattern in turn, as all texts were before; the outputs are the same either way."""
        out = list(values)
        holding_sep = False  # some text holds a NUL
        for at in range(0, len(out), CHUNK):
            chunk = out[at:at + CHUNK]
            big = freetext.SEP.join(chunk)
            if big.count(freetext.SEP) == len(chunk) - 1:  # no text holds one
                rows = list(range(at, at + len(chunk)))
            else:
                holding_sep = True
                rows = [i for i in range(at, at + len(chunk)) if freetext.SEP not in out[i]]
                big = freetext.SEP.join([out[i] for i in rows])
            big = freetext.replace_emails(big, self._many)
            alone = []
            if rows and IPV6_HINT.search(big) is not None:
                texts = big.split(freetext.SEP)
                alone = [j for j, v in enumerate(texts) if v.count(":") >= 2 and IPV6.search(v) is not None]
            if alone:
                for j, v in zip(alone, self._text_by_text([texts[j] for j in alone], PATTERNS[1:],
                                                          [values[rows[j]] for j in alone])):
                    out[rows[j]] = free_names.replace_names(v, {}, self.pick) if names else v
                done = set(alone)
                rows = [i for j, i in enumerate(rows) if j not in done]
                big = freetext.SEP.join([v for j, v in enumerate(texts) if j not in done])
            if rows:
                big = freetext.replace_digit_patterns(big, self._many)
                if names:
                    big = freetext.replace_dictionary_names(big, free_names.forms(), self._dictionary_name)
                for i, v in zip(rows, big.split(freetext.SEP)):
                    out[i] = v
        rest = [i for i, v in enumerate(out) if freetext.SEP in v] if holding_sep else []  # the text-by-text path
        for i, v in zip(rest, self._text_by_text([out[i] for i in rest], PATTERNS)):
            out[i] = free_names.replace_names(v, {}, self.pick) if names else v
        return out

    def _dictionary_name(self, word: str) -> str:
        """What a capitalised dictionary name in free text becomes with no row context (cached)."""
        got = self._replacing.get(word)
        if got is None:
            first = word.lower() in free_names.dictionary()[0]
            got = self._replacing[word] = free_names.like(word, self.pick(word, first))
        return got

    def _text_by_text(self, texts: list[str], patterns, originals: list[str] | None = None) -> list[str]:
        """Patterns searched in each text on its own (a text with fewer digits than a pattern's matches hold,
        counted in its original form, is skipped)."""
        texts = list(texts)
        digits = [len(v) - len(v.translate(_NO_DIGITS)) for v in (originals or texts)]
        for kind, finder, needs, fewest in patterns:
            spans = {}
            for j, v in enumerate(texts):
                if (needs is None or needs in v) and digits[j] >= fewest:
                    found = [(m.start(), m.end()) for m in finder(v)]
                    if found:
                        spans[j] = found
            if not spans:
                continue
            found = dict.fromkeys(texts[j][a:b] for j, cut in spans.items() for a, b in cut)
            mapping = dict(zip(found, self._many(kind, list(found))))
            for j, cut in spans.items():
                texts[j] = freetext.splice(texts[j], cut, mapping)
        return texts

    def transform(self, values, batch: Batch | None = None):
        """With the row's name columns: patterns over each distinct text once, then names row by row (the row's
        own names first, dictionary names after, none replaced by one of the row's production names)."""
        if not self.siblings or batch is None:
            return super().transform(values, batch)
        present = [v for v in dict.fromkeys(values) if v is not None]
        redacted = dict(zip(present, self._patterns(present)))
        plain = _plain_texts(list(redacted.values()))
        theirs = self.production_words(batch, len(values))
        out = []
        for v, row, avoid in zip(values, self.row_names(batch, theirs), theirs):
            if v is None:
                out.append(None)
                continue
            pick = (lambda w, first, avoid=avoid: self.pick(w, first, avoid)) if self.params.names else None
            text = redacted[v]
            if self.params.name_list:
                out.append(self._fit(self._names(text, row, pick or self.pick)))
            elif (plain is None or text in plain) and free_names.plain_row(row):
                out.append(self._fit(free_names.replace_names_plain(text, row, pick)))
            else:
                out.append(self._fit(free_names.replace_names(text, row, pick)))
        return out

    def row_names(self, batch: Batch, theirs: list[set[str]]) -> list[dict[str, str]]:
        """Per row: its production name words -> the anonymized words (what its name columns get), none of them
        one of the row's production words. Each column's (production, anonymized) pair is read into words once
        per batch (names.row_words of the row's pairs is that of each pair, the first column's word first)."""
        columns = []
        for col, t in self.siblings.items():
            pairs = list(zip(batch.columns[col], t.transform(batch.columns[col])))
            words_of: dict[tuple[str | None, str | None], dict[str, str]] = {}
            email = t.name == "email"  # its local part is the name
            for pair in pairs:
                if pair not in words_of:
                    r, a = pair
                    if r is not None and email:
                        r, a = r.split("@", 1)[0], (a or "").split("@", 1)[0]
                    words_of[pair] = free_names.row_words([(r, a)])
            columns.append(list(map(words_of.__getitem__, pairs)))
        rows = []
        for i, avoid in enumerate(theirs):
            words = {}
            for column in columns:
                for w, new in column[i].items():
                    if w not in words:
                        words[w] = new
            rows.append({w: (new if not _clashes(new, w, avoid) else self.pick(new, True, avoid))
                         for w, new in words.items()})
        return rows

    def production_words(self, batch: Batch, n: int) -> list[set[str]]:
        """Per row: the lower-cased words of its production names (what the leak check looks for); each column's
        value read into words once per batch."""
        columns = []
        for col, t in self.siblings.items():
            words_of: dict[str | None, frozenset[str]] = {None: frozenset()}
            email = t.name == "email"
            for r in batch.columns[col]:
                if r not in words_of:
                    text = r.split("@", 1)[0] if email else r
                    words_of[r] = frozenset(w.lower() for w in free_names.WORD.findall(text))
            columns.append(list(map(words_of.__getitem__, batch.columns[col])))
        out: list[set[str]] = [set() for _ in range(n)]
        for column in columns:
            for row, words in zip(out, column):
                row.update(words)
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
        return self.phone.many(texts)  # digits of other scripts too: phone writes them back in their script


def _plain_texts(texts: list[str]) -> set[str] | None:
    """The texts that names.replace_names_plain() takes; None when it takes them all (checked at once)."""
    if free_names.plain_text(freetext.SEP.join(texts)):
        return None
    return {text for text in texts if free_names.plain_text(text)}


def _clashes(new: str, word: str, avoid: frozenset[str] | set[str]) -> bool:
    """Whether a replacement would bring back the word itself or one of the row's production name words (a
    replacement may have several words: 'Maria Eduarda')."""
    found = _lower_words(new)
    return word.lower() in found or not found.isdisjoint(avoid)


@lru_cache(maxsize=1 << 14)
def _lower_words(text: str) -> frozenset[str]:
    """The lower-cased words of a replacement name (a pool entry: few distinct ones)."""
    return frozenset(w.lower() for w in free_names.WORD.findall(text))


