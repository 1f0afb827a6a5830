"""address: a full one-line postal address from seeded pools, composed within the column's length limit."""

import numpy as np

from .. import pools, vector
from ..base import DigestTransformer
from ..fit import FittedPool
from ..registry import register

FIXED = 3 + 1 + 2 + 5 + 1  # house number (up to 3), ' ', ', ', postcode, ' '


def _mod(hi, lo, shift: int, m: int):
    """((hi << 64 | lo) >> shift) % m for uint64 numpy arrays (0 <= shift <= 64), without 128-bit ints."""
    high, low = hi, lo >> shift if shift else lo
    return ((high % m) * ((1 << (64 - shift)) % m) + low % m) % m


@register
class Address(DigestTransformer):
    name = "address"
    description = ("'<number> <street>, <postcode> <city>' from the street and city pools; under varchar(n) the "
                   "street and city are chosen to fit.")
    chance_rate = 0.0001

    def setup(self):
        self.streets, self.cities = FittedPool(pools.streets()), FittedPool(pools.cities())
        self._houses = vector.numbers(np.arange(1, 200))  # house numbers 1..199 and postcodes 10000..99999 are
        self._postcodes = vector.numbers(np.arange(10000, 100000))  # picked like pool values (no cast per row)
        self.min_width = FIXED + self.streets.min_width() + self.cities.min_width()

    def from_digests(self, block):
        hi, lo = vector.words(block, 0, 8), vector.words(block, 8, 8)
        street = _mod(hi, lo, 16, len(self.streets.pool)).astype(np.int64)
        city = _mod(hi, lo, 48, len(self.cities.pool)).astype(np.int64)
        house = _mod(hi, lo, 0, 199)
        limit = self.column.max_length
        if limit is not None and limit < FIXED + self.streets.longest + self.cities.longest:
            digits = (1 + (house >= 9) + (house >= 99)).astype(np.int64)
            room = limit - (FIXED - 3) - digits  # for the street and the city
            city = self.cities.within(city, vector.words(block, 16, 8), room - self.streets.min_width())
            street = self.streets.within(street, vector.words(block, 24, 8), room - self.cities.length_of(city))
        postcode = vector.pick(self._postcodes, (hi >> np.uint64(16)) % np.uint64(90000))
        return vector.join(vector.pick(self._houses, house), " ", self.streets.take(street), ", ", postcode, " ",
                           self.cities.take(city))
