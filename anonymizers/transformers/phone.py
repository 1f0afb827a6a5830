"""phone: keyed digits in the original format, keeping the country prefix."""

import re

from ..base import Transformer
from ..fpe import permute_many, permute_runs
from ..registry import register

_PREFIX = re.compile(r"^\s*(\+\d{1,3}|00\d{1,3})")
_NON_DIGIT = re.compile(r"\D")
_SHAPE = str.maketrans("0123456789", "##########")


@register
class Phone(Transformer):
    name = "phone"
    description = "Same format and country prefix (+49 ...), every other digit replaced by a keyed permutation."
    injective = True
    identifier = True

    def setup(self):
        self._formats: dict[str, str] = {}

    def _format(self, tail: str) -> str:
        """A str.format template of tail's shape: digits become {} slots, everything else stays."""
        shape = tail.translate(_SHAPE)
        fmt = self._formats.get(shape)
        if fmt is None:
            fmt = self._formats[shape] = shape.replace("{", "{{").replace("}", "}}").replace("#", "{}")
        return fmt

    def many(self, values):
        """Group values by prefix and shape, then permute each group's digits in one vectorized call."""
        out: list[str | None] = [None] * len(values)
        groups: dict[tuple[str, str, int], list[tuple[int, int]]] = {}
        for idx, value in enumerate(values):
            m = _PREFIX.match(value)
            head, tail = (value[: m.end()], value[m.end():]) if m else ("", value)
            digits = _NON_DIGIT.sub("", tail)
            if not digits or len(digits) > 15:  # not a phone number: still never copied as it is
                out[idx] = permute_runs(self.keyed, value)
                continue
            groups.setdefault((head, self._format(tail), len(digits)), []).append((idx, int(digits)))
        for (head, fmt, n), items in groups.items():
            mapped = permute_many(self.keyed, [x for _, x in items], 10 ** n, tweak=head)
            for (idx, _), y in zip(items, mapped):
                out[idx] = head + fmt.format(*str(y).zfill(n))
        return out

    def one(self, value):
        return self.many([value])[0]
