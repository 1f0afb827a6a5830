"""postcode: keyed digits and letters in the original postcode's shape."""

from ..base import Transformer
from ..fpe import permute_runs, permute_runs_many
from ..registry import register


@register
class Postcode(Transformer):
    name = "postcode"
    description = "Same shape as the input (digits stay digits, letters stay letters), keyed."
    chance_rate = 0.001
    format_keeping = True

    def many(self, values):
        return permute_runs_many(self.keyed, values)  # vectorized per shape, identical results

    def one(self, value):
        return permute_runs(self.keyed, value)
