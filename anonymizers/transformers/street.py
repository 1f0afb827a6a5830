"""street: a house number and a street name from a seeded pool, within the column's length limit."""

import numpy as np

from .. import pools, vector
from ..base import DigestTransformer
from ..fit import FittedPool
from ..registry import register

HOUSE = 3  # house numbers 1..199: at most 3 characters


@register
class Street(DigestTransformer):
    name = "street"
    description = "'<number> <street name>' from a pool of about 1,900 street names; fits varchar(n)."
    chance_rate = 0.001

    def setup(self):
        self.streets = FittedPool(pools.streets())
        self._houses = vector.numbers(np.arange(1, 200))
        self.min_width = HOUSE + 1 + self.streets.min_width()

    def from_digests(self, block):
        n = vector.words(block, 0, 8)
        house = n % np.uint64(199)
        street = (n >> np.uint64(16)) % np.uint64(len(self.streets.pool))
        limit = self.column.max_length
        if limit is not None and limit < HOUSE + 1 + self.streets.longest:
            digits = 1 + (house >= 9) + (house >= 99)
            street = self.streets.within(street.astype(np.int64), vector.words(block, 8, 8),
                                         limit - 1 - digits.astype(np.int64))
        return vector.join(vector.pick(self._houses, house), " ", self.streets.take(street))
