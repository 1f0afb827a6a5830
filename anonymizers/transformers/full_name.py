"""full_name: "First Last" from seeded pools."""

from .. import pools, vector
from ..base import Transformer
from ..registry import register


@register
class FullName(Transformer):
    name = "full_name"
    description = "'First Last' from the first- and last-name pools."
    chance_rate = 0.001

    def setup(self):
        self.first, self.last = pools.first_names(), pools.last_names()
        self._first, self._last = vector.pool_array(self.first), vector.pool_array(self.last)

    def many(self, values):
        block = self.keyed.block(values)
        first = vector.pick(self._first, vector.words(block, 0, 4) % len(self.first))
        last = vector.pick(self._last, vector.words(block, 4, 4) % len(self.last))
        return vector.join(first, last, sep=" ").to_pylist()

    def one(self, value):
        return self.many([value])[0]
