"""street: a house number and a street name from a seeded pool."""

import numpy as np

from .. import pools, vector
from ..base import DigestTransformer
from ..registry import register


@register
class Street(DigestTransformer):
    name = "street"
    description = "'<number> <street name>' from a pool of about 1,900 street names."
    chance_rate = 0.001
    min_width = 64  # may write longer values than a narrower column holds

    def setup(self):
        self.pool = pools.streets()
        self._pool = vector.pool_array(self.pool)
        self._houses = vector.numbers(np.arange(1, 200))

    def from_digests(self, block):
        n = vector.words(block, 0, 8)
        street = vector.pick(self._pool, (n >> 16) % len(self.pool))
        return vector.join(vector.pick(self._houses, n % 199), " ", street)

    def one(self, value):
        n = self.keyed.integer(value, 64)
        return f"{1 + n % 199} {self.pool[(n >> 16) % len(self.pool)]}"
