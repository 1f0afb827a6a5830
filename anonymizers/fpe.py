"""Format-preserving keyed permutations (a Feistel network over [0, u*u) with cycle walking into
[0, n)): injective by construction, no collision resolution needed."""

from __future__ import annotations

from bisect import bisect_right
from math import isqrt, log2

from .keys import Keyed

ROUNDS = 4  # Luby-Rackoff: four rounds make a keyed Feistel network a strong pseudo-random permutation
TABLE_LIMIT = 1 << 17  # half-domains up to this size use precomputed round tables
MAX_RUN = 18  # longer runs are permuted in chunks of this length (each chunk a bijection of its own)


def _round_table(keyed: Keyed, tweak: str, n: int, u: int) -> list[list[int]]:
    cache = keyed.__dict__.setdefault("_fpe_tables", {})
    table = cache.get((tweak, n))
    if table is None:
        table = [[keyed.integer(f"{tweak}|{n}|{r}|{x}", 64) % u for x in range(u)] for r in range(ROUNDS)]
        cache[(tweak, n)] = table
    return table


def permute_many(keyed: Keyed, xs: list[int], n: int, tweak: str = "") -> list[int]:
    """permute() of every x, vectorized with numpy when the round tables apply (identical results)."""
    if n <= 1 or not xs:
        return list(xs)
    u = isqrt(n - 1) + 1
    if u > TABLE_LIMIT or len(xs) < 64:
        return [permute(keyed, x, n, tweak) for x in xs]
    import numpy as np  # imported here: a copy process without such columns need not carry it

    return permute_array(keyed, np.asarray(xs, dtype=np.int64), n, tweak).tolist()


def tabled(n: int) -> bool:
    """Whether permute_array can permute range(n) (its round tables apply)."""
    return n <= 1 or isqrt(n - 1) + 1 <= TABLE_LIMIT


def permute_array(keyed: Keyed, x, n: int, tweak: str = ""):
    """permute() of every element of an int64 numpy array (a new array); requires tabled(n)."""
    import numpy as np

    if n <= 1:
        return x.copy()
    u = isqrt(n - 1) + 1
    cache = keyed.__dict__.setdefault("_fpe_arrays", {})
    tables = cache.get((tweak, n))
    if tables is None:
        tables = cache[(tweak, n)] = [np.asarray(t, dtype=np.int64) for t in _round_table(keyed, tweak, n, u)]
    x = x.copy()
    todo = np.ones(len(x), dtype=bool)
    while todo.any():
        left, right = np.divmod(x[todo], u)
        for table in tables:
            left, right = right, (left + table[right]) % u
        x[todo] = left * u + right
        todo &= x >= n
    return x


def permute(keyed: Keyed, x: int, n: int, tweak: str = "") -> int:
    """A keyed bijection of range(n) (n >= 1), evaluated at x."""
    if n <= 1:
        return x
    u = isqrt(n - 1) + 1
    table = _round_table(keyed, tweak, n, u) if u <= TABLE_LIMIT else None
    while True:
        left, right = divmod(x, u)
        for r in range(ROUNDS):
            f = table[r][right] if table else keyed.integer(f"{tweak}|{n}|{r}|{right}", 64) % u
            left, right = right, (left + f) % u
        x = left * u + right
        if x < n:
            return x


DIGITS = "0123456789"
LOWER = "abcdefghijklmnopqrstuvwxyz"
_DIGIT_VALUE = {c: i for i, c in enumerate(DIGITS)}
_LETTER_VALUE = {c: i for i, c in enumerate(LOWER)}


def _run_end(text: str, i: int, digit: bool) -> int:
    n = min(len(text), i + MAX_RUN)
    while i < n:
        c = text[i]
        if not (c.isascii() and (c.isdigit() if digit else c.isalpha())):
            break
        i += 1
    return i


# Letters and digits of other scripts as contiguous ranges of assigned characters: a run of characters of one range
# is permuted within that range (same length, same script, case kept where a script's cases are ranges of their
# own). Characters in none of them (rarer scripts, combining marks, symbols) stay as they are (README).
SCRIPT_RANGES = (
    (0x00C0, 0x00D6), (0x00D8, 0x00DE), (0x00DF, 0x00F6), (0x00F8, 0x00FF),  # Latin-1 letters (not × and ÷)
    (0x0100, 0x017F),  # Latin Extended-A (its cases alternate: one range)
    (0x0391, 0x03A1), (0x03A3, 0x03A9), (0x03B1, 0x03C9),  # Greek capitals (0x03A2 is unassigned), small
    (0x0410, 0x042F), (0x0430, 0x044F),  # Cyrillic capitals, small
    (0x05D0, 0x05EA),  # Hebrew letters
    (0x0621, 0x064A),  # Arabic letters
    (0x0660, 0x0669), (0x06F0, 0x06F9),  # Arabic-Indic and Persian digits
    (0x0905, 0x0939), (0x0966, 0x096F),  # Devanagari letters, digits
    (0x3041, 0x3096), (0x30A1, 0x30FA),  # Hiragana, Katakana
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7A3),  # Hangul syllables
    (0xFF10, 0xFF19),  # full-width digits
)
_RANGE_STARTS = [start for start, _ in SCRIPT_RANGES]


def _script_range(c: str) -> tuple[int, int] | None:
    o = ord(c)
    i = bisect_right(_RANGE_STARTS, o) - 1
    return SCRIPT_RANGES[i] if i >= 0 and o <= SCRIPT_RANGES[i][1] else None


def _permute_script_run(keyed: Keyed, text: str, i: int, first: int, last: int) -> tuple[str, int]:
    """The run of characters of the range [first, last] starting at i, permuted (a chunk of at most MAX_RUN
    characters and at most 128 bits of domain, so a round's 64-bit function spans each Feistel half); its end."""
    radix = last - first + 1
    longest = max(1, min(MAX_RUN, int(128 / log2(radix))))
    j = i
    while j < len(text) and j - i < longest and first <= ord(text[j]) <= last:
        j += 1
    value = 0
    for c in text[i:j]:
        value = value * radix + ord(c) - first
    value = permute(keyed, value, radix ** (j - i), tweak=f"u{first:x}.{j - i}")
    chars = []
    for _ in range(j - i):
        value, d = divmod(value, radix)
        chars.append(chr(first + d))
    return "".join(reversed(chars)), j


def permute_runs(keyed: Keyed, text: str) -> str:
    """Replace every run of digits and every run of letters by a keyed permutation of same length and
    alphabet (letters keep their case per position; runs of other scripts' letters and digits likewise, within
    their SCRIPT_RANGES); other characters stay. Injective."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if not (ch.isascii() and ch.isalnum()):
            script = None if ch.isascii() else _script_range(ch)
            if script is None:
                out.append(ch)
                i += 1
            else:
                run, i = _permute_script_run(keyed, text, i, *script)
                out.append(run)
            continue
        digit = ch.isdigit()
        j = _run_end(text, i, digit)
        run = text[i:j]
        alphabet, values = (DIGITS, _DIGIT_VALUE) if digit else (LOWER, _LETTER_VALUE)
        radix = len(alphabet)
        value = 0
        for c in run.lower():
            value = value * radix + values[c]
        value = permute(keyed, value, radix ** len(run), tweak=f"{'d' if digit else 'a'}{len(run)}")
        chars = []
        for _ in run:
            value, d = divmod(value, radix)
            chars.append(alphabet[d])
        chars.reverse()
        if digit:
            out.append("".join(chars))
        else:
            out.append("".join(m.upper() if o.isupper() else m for m, o in zip(chars, run)))
        i = j
    return "".join(out)


_RUN_SHAPE = str.maketrans({**{c: "0" for c in DIGITS}, **{c: "a" for c in LOWER + LOWER.upper()}})


def _shape_runs(shape: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_digit) of every run permute_runs cuts in a text of this shape."""
    runs, i = [], 0
    while i < len(shape):
        if shape[i] in "0a":
            j = _run_end(shape, i, shape[i] == "0")
            runs.append((i, j, shape[i] == "0"))
            i = j
        else:
            i += 1
    return runs


def permute_runs_many(keyed: Keyed, texts: list[str]) -> list[str]:
    """permute_runs() of every text, vectorized with numpy per shape (identical results)."""
    out: list[str] = [""] * len(texts)
    groups: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        groups.setdefault(text.translate(_RUN_SHAPE), []).append(i)
    for shape, idx in groups.items():
        runs = _shape_runs(shape)
        if len(idx) < 64 or not shape.isascii() or not all(tabled((10 if d else 26) ** (b - a)) for a, b, d in runs):
            for i in idx:
                out[i] = permute_runs(keyed, texts[i])
            continue
        for i, text in zip(idx, _permute_shape(keyed, [texts[i] for i in idx], shape, runs)):
            out[i] = text
    return out


def _permute_shape(keyed: Keyed, texts: list[str], shape: str, runs: list[tuple[int, int, bool]]) -> list[str]:
    """permute_runs() of ASCII texts that all have this shape: one numpy pass per run."""
    import numpy as np

    width = len(shape)
    if not width:
        return list(texts)
    chars = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8).reshape(len(texts), width)
    res = chars.copy()
    for a, b, digit in runs:
        radix, base = (10, 48) if digit else (26, 97)
        cols = chars[:, a:b].astype(np.int64)
        x = np.zeros(len(texts), dtype=np.int64)
        for j in range(b - a):
            x = x * radix + ((cols[:, j] if digit else cols[:, j] | 32) - base)
        y = permute_array(keyed, x, radix ** (b - a), tweak=f"{'d' if digit else 'a'}{b - a}")
        for j in range(b - a - 1, -1, -1):
            y, d = np.divmod(y, radix)
            res[:, a + j] = d + base - (0 if digit else 32 * (cols[:, j] < 97))
    text = res.tobytes().decode("ascii")
    return [text[k:k + width] for k in range(0, len(text), width)]
