"""street: a house number and a street name from a seeded pool."""

from .. import pools, vector
from ..base import Transformer
from ..registry import register


@register
class Street(Transformer):
    name = "street"
    description = "'<number> <street name>' from a pool of about 1,900 street names."
    chance_rate = 0.001

    def setup(self):
        self.pool = pools.streets()
        self._pool = vector.pool_array(self.pool)

    def many(self, values):
        n = vector.words(self.keyed.block(values), 0, 8)
        street = vector.pick(self._pool, (n >> 16) % len(self.pool))
        return vector.join(vector.numbers(1 + n % 199), street, sep=" ").to_pylist()

    def one(self, value):
        n = self.keyed.integer(value, 64)
        return f"{1 + n % 199} {self.pool[(n >> 16) % len(self.pool)]}"
