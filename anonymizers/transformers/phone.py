"""phone: keyed digits in the original format, keeping the country prefix."""

import re

from ..base import Transformer
from ..registry import register
from ..fpe import permute

_PREFIX = re.compile(r"^\s*(\+\d{1,3}|00\d{1,3})")


@register
class Phone(Transformer):
    name = "phone"
    description = "Same format and country prefix (+49 ...), every other digit replaced by a keyed permutation."
    injective = True
    identifier = True

    def one(self, value):
        m = _PREFIX.match(value)
        head, tail = (value[: m.end()], value[m.end():]) if m else ("", value)
        digits = [c for c in tail if c.isdigit()]
        if not digits:
            return value
        mapped = str(permute(self.keyed, int("".join(digits)), 10 ** len(digits), tweak=head)).zfill(len(digits))
        it = iter(mapped)
        return head + "".join(next(it) if c.isdigit() else c for c in tail)
