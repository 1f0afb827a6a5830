"""phone: keyed digits in the original format, keeping the country prefix."""

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..base import Transformer
from ..fpe import permute_array, permute_many, permute_runs, tabled
from ..registry import register

_PREFIX = re.compile(r"^\s*(\+\d{1,3}|00\d{1,3})")
_NON_DIGIT = re.compile(r"\D")
_FORMAT = str.maketrans({"{": "{{", "}": "}}", **{d: "{}" for d in "0123456789"}})  # digits become {} slots
_ASCII_SHAPE = str.maketrans({**{d: "#" for d in "0123456789"}, "#": "\u0100"})  # a literal # is no slot
MAX_DIGITS = 15
MAX_WIDTH = 32  # longer values (not phone numbers) take the value-by-value path
MAX_HEAD = 6  # longer prefixes (leading whitespace) likewise: a group key holds its length, digits and prefix
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[48:58] = True
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True  # what \s matches among ASCII characters


@register
class Phone(Transformer):
    name = "phone"
    description = "Same format and country prefix (+49 ...), every other digit replaced by a keyed permutation."
    injective = True
    identifier = True
    format_keeping = True

    def many(self, values):
        """ASCII values of phone-like width: a few numpy passes per width, each (prefix, digit count) group's
        numbers permuted in one call; the others value by value (`_by_shape`). Both give the same outputs."""
        if len(values) < 64:
            return self._by_shape(values)
        try:
            arr = pa.array(values, pa.large_string())
        except UnicodeError:  # lone surrogates
            return self._by_shape(values)
        return self._many(arr, values).to_pylist()

    def many_arrow(self, values):
        return self._many(values.cast(pa.large_string()), None)

    def _many(self, arr: pa.Array, values: list[str] | None) -> pa.Array:
        """many() of an Arrow array (`values`: the same as Python strings, when the caller has them)."""
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
        if arr.buffers()[2] is None or offsets[-1] == offsets[0]:
            return pa.array(self._by_shape(arr.to_pylist() if values is None else values), pa.large_string())
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[: offsets[-1]]
        widths = np.diff(offsets)
        fast = pc.string_is_ascii(arr).to_numpy(zero_copy_only=False) & (widths > 0) & (widths <= MAX_WIDTH)
        result, done = data.copy(), np.zeros(len(arr), dtype=bool)
        rows = np.flatnonzero(fast)
        rows = rows[np.argsort(widths[rows], kind="stable")]
        for group in np.split(rows, np.flatnonzero(np.diff(widths[rows])) + 1):
            if len(group):
                where = offsets[group][:, None] + np.arange(widths[group[0]])
                chars, ok = self._same_width(data[where])
                result[where[ok]] = chars[ok]
                done[group[ok]] = True
        out = pa.LargeStringArray.from_buffers(len(arr), pa.py_buffer(offsets), pa.py_buffer(result))
        rest = np.flatnonzero(~done)
        if not len(rest):
            return out
        texts = out.to_pylist()
        values = arr.to_pylist() if values is None else values
        for i, text in zip(rest.tolist(), self._by_shape([values[i] for i in rest.tolist()])):
            texts[i] = text
        return pa.array(texts, pa.large_string())

    def _same_width(self, chars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ASCII values of one width as a (rows, width) byte matrix: the transformed matrix, and which rows it
        holds (the others: no digit after the prefix, too many, or a long prefix)."""
        rows, width = chars.shape
        padded = np.zeros((rows, width + 5), dtype=np.uint8)
        padded[:, :width] = chars
        start = np.argmax(~_SPACE[chars], axis=1)  # _PREFIX: leading whitespace, then +d{1,3} or 00d{1,3}
        near = np.take_along_axis(padded, start[:, None] + np.arange(5), axis=1)
        digit = _DIGIT[near].astype(np.int64)
        plus = digit[:, 1] * (1 + digit[:, 2] * (1 + digit[:, 3]))
        zeros = digit[:, 2] * (1 + digit[:, 3] * (1 + digit[:, 4]))
        head = np.where((near[:, 0] == 43) & (plus > 0), start + 1 + plus,
                        np.where((near[:, 0] == 48) & (near[:, 1] == 48) & (zeros > 0), start + 2 + zeros, 0))
        slots = _DIGIT[chars] & (np.arange(width) >= head[:, None])
        count = slots.sum(axis=1)
        ok = (count > 0) & (count <= MAX_DIGITS) & (head <= MAX_HEAD)
        x = np.zeros(rows, dtype=np.int64)
        for j in range(width):
            x = np.where(slots[:, j], x * 10 + (chars[:, j].astype(np.int64) - 48), x)
        key = np.zeros((rows, 8), dtype=np.uint8)  # (prefix length, digit count, prefix) as one 64-bit key
        key[:, 0], key[:, 1] = np.minimum(head, 255), np.minimum(count, 255)
        for j in range(min(MAX_HEAD, width)):
            key[:, 2 + j] = np.where(j < head, chars[:, j], 0)
        y = np.zeros(rows, dtype=np.int64)
        _, inverse = np.unique(key.view(np.uint64)[:, 0][ok], return_inverse=True)
        members = np.flatnonzero(ok)[np.argsort(inverse, kind="stable")]
        for idx in np.split(members, np.cumsum(np.bincount(inverse))[:-1]) if len(members) else ():
            first = idx[0]
            n, tweak = int(count[first]), chars[first, : head[first]].tobytes().decode("ascii")
            if tabled(10 ** n):
                y[idx] = permute_array(self.keyed, x[idx], 10 ** n, tweak=tweak)
            else:
                y[idx] = permute_many(self.keyed, x[idx].tolist(), 10 ** n, tweak=tweak)
        out = chars.copy()
        for j in reversed(range(width)):
            y, digit_j = np.where(slots[:, j], y // 10, y), y % 10
            out[:, j] = np.where(slots[:, j], digit_j + 48, out[:, j])
        return out, ok

    def _by_shape(self, values):
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
