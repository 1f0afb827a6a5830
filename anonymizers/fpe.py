"""Format-preserving keyed permutations (a Feistel network over [0, u*u) with cycle walking into
[0, n)): injective by construction, no collision resolution needed."""

from __future__ import annotations

from math import isqrt

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


def permute_runs(keyed: Keyed, text: str) -> str:
    """Replace every run of digits and every run of letters by a keyed permutation of same length and
    alphabet (letters keep their case per position); other characters stay. Injective."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if not (ch.isascii() and ch.isalnum()):
            out.append(ch)
            i += 1
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
