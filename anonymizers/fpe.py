"""Format-preserving keyed permutations (Feistel with cycle walking): injective by construction."""

from __future__ import annotations

from .keys import Keyed

ROUNDS = 6


def permute(keyed: Keyed, x: int, n: int, tweak: str = "") -> int:
    """A keyed bijection of range(n) (n >= 1), evaluated at x."""
    if n <= 1:
        return x
    bits = max(2, (n - 1).bit_length())
    bits += bits % 2
    half = bits // 2
    mask = (1 << half) - 1
    while True:
        left, right = x >> half, x & mask
        for r in range(ROUNDS):
            f = keyed.integer(f"{tweak}|{n}|{r}|{right}", half)
            left, right = right, left ^ f
        x = (left << half) | right
        if x < n:
            return x


DIGITS = "0123456789"
LOWER = "abcdefghijklmnopqrstuvwxyz"


def permute_runs(keyed: Keyed, text: str) -> str:
    """Replace every run of digits and every run of letters by a keyed permutation of same length and
    alphabet (letters keep their case per position); other characters stay. Injective."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isascii() and (ch.isdigit() or ch.isalpha()):
            is_digit = ch.isdigit()
            j = i
            while j < n and text[j].isascii() and (text[j].isdigit() if is_digit else text[j].isalpha()):
                j += 1
            run = text[i:j]
            alphabet = DIGITS if is_digit else LOWER
            radix = len(alphabet)
            value = 0
            for c in run.lower():
                value = value * radix + alphabet.index(c)
            value = permute(keyed, value, radix ** len(run), tweak=f"{'d' if is_digit else 'a'}{len(run)}")
            chars = []
            for _ in run:
                value, d = divmod(value, radix)
                chars.append(alphabet[d])
            mapped = "".join(reversed(chars))
            out.append("".join(m.upper() if o.isupper() else m for m, o in zip(mapped, run)))
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)
