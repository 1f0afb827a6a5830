"""tokenize: format-preserving keyed permutation for identifiers (unique in, unique out)."""

from ..base import NUMERIC, STRING, Transformer
from ..fpe import permute, permute_many, permute_runs, permute_runs_many
from ..registry import register


def _digits(value: str) -> tuple[str, str]:
    return ("-", value[1:]) if value.startswith("-") else ("", value)


@register
class Tokenize(Transformer):
    name = "tokenize"
    description = ("Keyed format-preserving permutation: integers keep sign and digit count, text keeps its "
                   "shape (digit and letter runs permuted). Injective.")
    accepts = frozenset(STRING + NUMERIC)
    injective = True
    identifier = True
    format_keeping = True
    fallback = 2

    def many(self, values):
        if self.column.type_category != NUMERIC:
            return permute_runs_many(self.keyed, values)
        out: list[str | None] = [None] * len(values)
        groups: dict[int, list[tuple[int, str, str]]] = {}
        for i, value in enumerate(values):
            sign, digits = _digits(value)
            if digits.isascii() and digits.isdigit():
                groups.setdefault(len(digits), []).append((i, sign, digits))
            else:
                out[i] = self.one(value)
        for n, items in groups.items():
            low = 10 ** (n - 1) if n > 1 else 0
            mapped = permute_many(self.keyed, [int(d) - low for _, _, d in items], 10 ** n - low, tweak=f"int{n}")
            for (i, sign, _), y in zip(items, mapped):
                out[i] = sign + str(low + y)
        return out

    def one(self, value):
        if self.column.type_category == NUMERIC:
            sign, digits = _digits(value)
            if not digits.isdigit():
                return value
            n = len(digits)
            low = 10 ** (n - 1) if n > 1 else 0
            return sign + str(low + permute(self.keyed, int(digits) - low, 10 ** n - low, tweak=f"int{n}"))
        return permute_runs(self.keyed, value)
