"""phone: keyed digits in the original format, keeping the country prefix and the area code."""

import re
from functools import lru_cache

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from ..base import Transformer
from ..fpe import permute, permute_array, permute_many, permute_runs, tabled
from ..patterns import ascii_digits, in_script_of
from ..registry import register

_PREFIX = re.compile(r"^\s*(\+\d{1,3}|00\d{1,3})")
_NON_DIGIT = re.compile(r"\D")
_FORMAT = str.maketrans({"{": "{{", "}": "}}", **{d: "{}" for d in "0123456789"}})  # digits become {} slots
_ASCII_SHAPE = str.maketrans({**{d: "#" for d in "0123456789"}, "#": "\u0100"})  # a literal # is no slot
MAX_DIGITS = 15
MAX_WIDTH = 32  # longer values (not phone numbers) take the value-by-value path
MAX_HEAD = 6  # longer prefixes (leading whitespace) likewise: a group key holds its length, digits and prefix
_SHAPE_RUNS = re.compile(r"#{1,32}")  # the same, in a shape (digits written as #)
_SHAPE_TRUNK = re.compile(r"\s*\(#\)")
_RUNS = re.compile(r"\d{1,32}")  # digit groups of a tail (longer runs are no phone's: counted in pieces, still no area)
_TRUNK = re.compile(r"\s*\(\d\)")  # '+44 (0) 20 ...': the trunk prefix in parentheses before the area code
MAX_AREA = 5  # the longest area code kept (a longer first group is not one)
MIN_SUBSCRIBER = 6  # digits left to permute at least, else nothing is kept (chance_rate: 1 in 10^6 stays)
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[48:58] = True
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True  # what \s matches among ASCII characters


@register
class Phone(Transformer):
    name = "phone"
    description = ("Same format, country prefix (+49 ...) and area code (the first digit group; compact international "
                   "numbers stay valid in their plan), every other digit replaced by a keyed permutation.")
    injective = True
    identifier = True
    format_keeping = True
    chance_rate = 1e-6  # a kept area code leaves at least MIN_SUBSCRIBER digits: a permutation of 10^6 numbers or more

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
        digit = _DIGIT[chars]
        slots = digit & (np.arange(width) >= head[:, None])
        count = slots.sum(axis=1)
        ok = (count > 0) & (count <= MAX_DIGITS) & (head <= MAX_HEAD)
        # the area code: the first digit group when there are more (area_digits()); a compact international
        # number, or a one-digit group in parentheses after a country code (a trunk prefix?), value by value
        first = np.argmax(slots, axis=1)
        beyond = ~digit & (np.arange(width) >= first[:, None])
        end = np.where(beyond.any(axis=1), np.argmax(beyond, axis=1), width)
        group = end - first
        padded[:, width] = 0
        before = np.take_along_axis(padded, np.maximum(first - 1, 0)[:, None], axis=1)[:, 0]
        after = np.take_along_axis(padded, end[:, None], axis=1)[:, 0]
        trunk = (head > 0) & (group == 1) & (first > 0) & (before == 40) & (after == 41)
        ok &= ~(((head > 0) & (count == group)) | trunk)
        area = np.where((count > group) & (group <= MAX_AREA) & (count - group >= MIN_SUBSCRIBER), group, 0)
        x = np.zeros(rows, dtype=np.int64)
        for j in range(width):
            x = np.where(slots[:, j], x * 10 + (chars[:, j].astype(np.int64) - 48), x)
        key = np.zeros((rows, 8), dtype=np.uint8)  # (prefix length, digit count, prefix) as one 64-bit key
        key[:, 0], key[:, 1] = np.minimum(head, 255), np.minimum(count, 15) | (area << 4)
        for j in range(min(MAX_HEAD, width)):
            key[:, 2 + j] = np.where(j < head, chars[:, j], 0)
        y = np.zeros(rows, dtype=np.int64)
        _, inverse = np.unique(key.view(np.uint64)[:, 0][ok], return_inverse=True)
        members = np.flatnonzero(ok)[np.argsort(inverse, kind="stable")]
        for idx in np.split(members, np.cumsum(np.bincount(inverse))[:-1]) if len(members) else ():
            one = idx[0]
            n, tweak = int(count[one]), chars[one, : head[one]].tobytes().decode("ascii")
            y[idx] = self._kept(x[idx], n, int(area[one]), tweak)
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
        tail = shape[len(head):]
        k = area_digits(head, [len(g) for g in _SHAPE_RUNS.findall(tail)], bool(_SHAPE_TRUNK.match(tail)), n)
        y = np.asarray(self._numbers(x.tolist(), n, k, head), dtype=np.int64)
        res = chars.copy()
        for j in reversed(slots):
            y, d = np.divmod(y, 10)
            res[:, j] = d + 48
        text, width = res.tobytes().decode("ascii"), len(shape)
        return [text[k:k + width] for k in range(0, len(text), width)]

    def _grouped(self, values):
        """Any values: group by prefix and shape, then permute each group's digits in one call. Digits of other
        scripts (Arabic-Indic, full-width ...) are permuted as the ASCII digits of the same value and written
        back in their script."""
        originals = values
        values = [ascii_digits(v) for v in values]
        out: list[str | None] = [None] * len(values)
        groups: dict[tuple[str, str, int, int | None], list[tuple[int, int]]] = {}
        for idx, value in enumerate(values):
            m = _PREFIX.match(value)
            head, tail = (value[: m.end()], value[m.end():]) if m else ("", value)
            digits = _NON_DIGIT.sub("", tail)
            if not digits or len(digits) > MAX_DIGITS:  # not a phone number: still never copied as it is
                out[idx] = permute_runs(self.keyed, value)
                continue
            k = text_area_digits(head, tail, len(digits))
            groups.setdefault((head, tail.translate(_FORMAT), len(digits), k), []).append((idx, int(digits)))
        for (head, fmt, n, k), items in groups.items():
            mapped = self._numbers([x for _, x in items], n, k, head)
            for (idx, _), y in zip(items, mapped):
                out[idx] = head + fmt.format(*str(y).zfill(n))
        return [in_script_of(o, t) for o, t in zip(originals, out)]

    def one(self, value):
        return self.many([value])[0]

    def _kept(self, x: np.ndarray, n: int, k: int, head: str) -> np.ndarray:
        """n-digit numbers (after the prefix `head`) permuted keeping their first k digits (the area code): the
        rest, shifted by a keyed offset of the area code, through one keyed permutation per (head, n, k). With k
        = 0 the whole number is permuted (as before area codes were kept)."""
        x = np.asarray(x, dtype=np.int64)
        if not k:
            if tabled(10 ** n) and len(x) >= 64:
                return permute_array(self.keyed, x, 10 ** n, tweak=head)
            return np.asarray(permute_many(self.keyed, x.tolist(), 10 ** n, tweak=head), dtype=np.int64)
        size = 10 ** (n - k)
        area, rest = np.divmod(x, size)
        codes, where = np.unique(area, return_inverse=True)
        offsets = np.array([self._offset(head, n, k, int(a)) for a in codes], dtype=np.int64)[where]
        shifted = (rest + offsets) % size
        tweak = f"{head}|area{k}"
        if tabled(size) and len(x) >= 64:
            moved = permute_array(self.keyed, shifted, size, tweak=tweak)
        else:
            moved = np.asarray(permute_many(self.keyed, shifted.tolist(), size, tweak=tweak), dtype=np.int64)
        return area * size + moved

    def _offset(self, head: str, n: int, k: int, area: int) -> int:
        """A keyed offset per area code (so equal subscriber digits in two areas do not map alike)."""
        cache = self.__dict__.setdefault("_offsets", {})
        got = cache.get((head, n, k, area))
        if got is None:
            got = cache[(head, n, k, area)] = self.keyed.integer(f"area|{head}|{n}|{area:0{k}d}", 64) % 10 ** (n - k)
        return got

    def _walked(self, xs: list[int], n: int, head: str) -> list[int]:
        """A compact international number (one digit group after its prefix, e.g. +14155550100): the keyed
        permutation of its digits, repeated until the result is as valid in its country's plan as the input
        (libphonenumber): a valid number maps to a valid one (so its area code is a real one), an invalid one
        to an invalid one; cycle walking within each class keeps it a bijection."""
        out = []
        for x in xs:
            want = _valid(head, n, x)
            y = permute(self.keyed, x, 10 ** n, tweak=head)
            while _valid(head, n, y) != want:
                y = permute(self.keyed, y, 10 ** n, tweak=head)
            out.append(y)
        return out

    def _numbers(self, xs: list[int], n: int, k: int | None, head: str) -> list[int]:
        """The new digits of numbers sharing a prefix, a digit count and an area rule (area_digits())."""
        if k is None:
            return self._walked(xs, n, head)
        return self._kept(np.asarray(xs, dtype=np.int64), n, k, head).tolist()


def area_digits(head: str, groups: list[int], trunk: bool, n: int) -> int | None:
    """How many leading digits after the prefix are the area code, kept as they are: the first digit group when
    the number is written in groups (with a '(0)' trunk prefix after a country code, that and the next group),
    at most MAX_AREA digits and leaving MIN_SUBSCRIBER to permute; None for a compact international number (one
    group after a country code: libphonenumber judges it, see _walked); 0 otherwise (a compact national number:
    its country is unknown)."""
    if head and trunk and len(groups) >= 3:
        k = 1 + groups[1]
        return k if groups[1] <= MAX_AREA and n - k >= MIN_SUBSCRIBER else 0
    if len(groups) >= 2:
        return groups[0] if groups[0] <= MAX_AREA and n - groups[0] >= MIN_SUBSCRIBER else 0
    return None if head and n > MIN_SUBSCRIBER else 0


def text_area_digits(head: str, tail: str, n: int) -> int | None:
    """area_digits() of a value written as head + tail."""
    return area_digits(head, [len(g) for g in _RUNS.findall(tail)], bool(_TRUNK.match(tail)), n)


@lru_cache(maxsize=1 << 16)
def _valid(head: str, n: int, x: int) -> bool:
    """Whether head + the n digits of x is a valid number in its country's plan (libphonenumber)."""
    text = head.strip()
    digits = text[2:] if text.startswith("00") else text.lstrip("+")
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(f"+{digits}{x:0{n}d}", None))
    except phonenumbers.NumberParseException:
        return False
