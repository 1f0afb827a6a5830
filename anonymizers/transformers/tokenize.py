"""tokenize: format-preserving keyed permutation for identifiers (unique in, unique out)."""

from ..base import NUMERIC, STRING, Transformer
from ..fpe import permute, permute_runs
from ..registry import register


@register
class Tokenize(Transformer):
    name = "tokenize"
    description = ("Keyed format-preserving permutation: integers keep sign and digit count, text keeps its "
                   "shape (digit and letter runs permuted). Injective.")
    accepts = frozenset(STRING + NUMERIC)
    injective = True
    identifier = True

    def one(self, value):
        if self.column.type_category == NUMERIC:
            sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
            if not digits.isdigit():
                return value
            n = len(digits)
            low = 10 ** (n - 1) if n > 1 else 0
            return sign + str(low + permute(self.keyed, int(digits) - low, 10 ** n - low, tweak=f"int{n}"))
        return permute_runs(self.keyed, value)
