"""regex_redact: replace e-mails, phones, card numbers and IPs inside free text by their anonymized forms."""

import re

from ..base import Transformer
from ..fpe import permute
from ..registry import register
from .email import Email
from .ip import Ip
from .phone import Phone

EMAIL = re.compile(r"[A-Za-z0-9._%+\-\u00C0-\u024F]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
IPV6 = re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b")
PHONE = re.compile(r"(?:\+|(?<![\w\-])00)\d{1,3}[\s\-./]?(?:\(?\d{1,5}\)?[\s\-./]?){1,4}\d{2,}")
PATTERNS = [("email", EMAIL), ("card", CARD), ("ipv6", IPV6), ("ipv4", IPV4), ("phone", PHONE)]
NEEDS = {"email": ("@",), "ipv6": (":",), "ipv4": (".",), "phone": ("+", "00")}  # a match holds one of these


@register
class RegexRedact(Transformer):
    name = "regex_redact"
    partial = True
    min_width = 64  # may write longer values than a narrower column holds
    description = ("Free text: e-mails, card numbers, IPs and phone numbers found inside are replaced by "
                   "their anonymized forms (same transforms as the email/ip/phone columns); the rest stays.")

    def __init__(self, params, key, column=None):
        super().__init__(params, key, column)
        self.email, self.phone, self.ip = Email(None, key), Phone(None, key), Ip(None, key)

    def _card(self, text: str) -> str:
        digits = [c for c in text if c.isdigit()]
        mapped = str(permute(self.keyed, int("".join(digits)), 10 ** len(digits), tweak="card")).zfill(len(digits))
        it = iter(mapped)
        return "".join(next(it) if c.isdigit() else c for c in text)

    def one(self, value):
        for kind, pattern in PATTERNS:
            value = pattern.sub(lambda m, k=kind: self._many(k, [m.group(0)])[0], value)
        return value

    def many(self, values):
        """one() of every value, pattern by pattern over the whole batch: each pattern's distinct matches are
        anonymized together by the column transformers' vectorized many() (identical results), then put back."""
        out = list(values)
        for kind, pattern in PATTERNS:
            needs, search = NEEDS.get(kind), pattern.search
            hits = [i for i, v in enumerate(out) if (needs is None or any(n in v for n in needs)) and search(v)]
            if not hits:
                continue
            found = dict.fromkeys(m.group(0) for i in hits for m in pattern.finditer(out[i]))
            mapping = dict(zip(found, self._many(kind, list(found))))
            replace = lambda m, mapping=mapping: mapping[m.group(0)]  # noqa: E731
            for i in hits:
                out[i] = pattern.sub(replace, out[i])
        return out

    def _many(self, kind: str, texts: list[str]) -> list[str]:
        """The anonymized forms of one pattern's matches."""
        if kind == "email":
            return self.email.many(texts)
        if kind == "card":
            return [self._card(t) for t in texts]
        if kind in ("ipv4", "ipv6"):
            return self.ip.many(texts)
        return self.phone.many(texts)
