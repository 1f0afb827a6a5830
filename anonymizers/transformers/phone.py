"""phone: keyed digits in the original format, keeping the country prefix."""

import re

from ..base import Transformer
from ..fpe import permute_array, permute_many, permute_runs, tabled
from ..registry import register

_PREFIX = re.compile(r"^\s*(\+\d{1,3}|00\d{1,3})")
_NON_DIGIT = re.compile(r"\D")
_FORMAT = str.maketrans({"{": "{{", "}": "}}", **{d: "{}" for d in "0123456789"}})  # digits become {} slots
_ASCII_SHAPE = str.maketrans({**{d: "#" for d in "0123456789"}, "#": "\u0100"})  # a literal # is no slot
MAX_DIGITS = 15


@register
class Phone(Transformer):
    name = "phone"
    description = "Same format and country prefix (+49 ...), every other digit replaced by a keyed permutation."
    injective = True
    identifier = True

    def many(self, values):
        """ASCII values grouped by prefix and shape, each group's digits permuted in one numpy pass."""
        out: list[str | None] = [None] * len(values)
        groups: dict[tuple[str, str], list[int]] = {}
        others: list[int] = []
        match = _PREFIX.match
        for idx, value in enumerate(values):
            if not value.isascii():
                others.append(idx)
                continue
            m = match(value)
            groups.setdefault((value[: m.end()] if m else "", value.translate(_ASCII_SHAPE)), []).append(idx)
        for (head, shape), idx in groups.items():
            for i, text in zip(idx, self._same_shape([values[i] for i in idx], head, shape)):
                out[i] = text
        for i, text in zip(others, self._grouped([values[i] for i in others])):
            out[i] = text
        return out

    def _same_shape(self, values: list[str], head: str, shape: str) -> list[str]:
        """ASCII values that share the prefix `head` and this digit shape."""
        import numpy as np

        slots = [j for j, c in enumerate(shape) if c == "#" and j >= len(head)]
        n = len(slots)
        if not n or n > MAX_DIGITS:  # not a phone number: still never copied as it is
            return [permute_runs(self.keyed, v) for v in values]
        chars = np.frombuffer("".join(values).encode("ascii"), dtype=np.uint8).reshape(len(values), len(shape))
        x = np.zeros(len(values), dtype=np.int64)
        for j in slots:
            x = x * 10 + (chars[:, j].astype(np.int64) - 48)
        if tabled(10 ** n) and len(values) >= 64:
            y = permute_array(self.keyed, x, 10 ** n, tweak=head)
        else:
            y = np.asarray(permute_many(self.keyed, x.tolist(), 10 ** n, tweak=head), dtype=np.int64)
        res = chars.copy()
        for j in reversed(slots):
            y, d = np.divmod(y, 10)
            res[:, j] = d + 48
        text, width = res.tobytes().decode("ascii"), len(shape)
        return [text[k:k + width] for k in range(0, len(text), width)]

    def _grouped(self, values):
        """Any values: group by prefix and shape, then permute each group's digits in one call."""
        out: list[str | None] = [None] * len(values)
        groups: dict[tuple[str, str, int], list[tuple[int, int]]] = {}
        for idx, value in enumerate(values):
            m = _PREFIX.match(value)
            head, tail = (value[: m.end()], value[m.end():]) if m else ("", value)
            digits = _NON_DIGIT.sub("", tail)
            if not digits or len(digits) > MAX_DIGITS:  # not a phone number: still never copied as it is
                out[idx] = permute_runs(self.keyed, value)
                continue
            groups.setdefault((head, tail.translate(_FORMAT), len(digits)), []).append((idx, int(digits)))
        for (head, fmt, n), items in groups.items():
            mapped = permute_many(self.keyed, [x for _, x in items], 10 ** n, tweak=head)
            for (idx, _), y in zip(items, mapped):
                out[idx] = head + fmt.format(*str(y).zfill(n))
        return out

    def one(self, value):
        return self.many([value])[0]
