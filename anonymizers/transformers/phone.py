"""phone: keyed digits in the original format, keeping the country prefix."""

import re

from ..base import Transformer
from ..fpe import permute, permute_runs
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

    def one(self, value):
        m = _PREFIX.match(value)
        head, tail = (value[: m.end()], value[m.end():]) if m else ("", value)
        digits = _NON_DIGIT.sub("", tail)
        if not digits or len(digits) > 15:  # not a phone number: still never copied as it is
            return permute_runs(self.keyed, value)
        n = len(digits)
        mapped = str(permute(self.keyed, int(digits), 10 ** n, tweak=head)).zfill(n)
        return head + self._format(tail).format(*mapped)
