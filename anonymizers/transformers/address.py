"""address: a full one-line postal address from seeded pools."""

import numpy as np

from .. import pools, vector
from ..base import DigestTransformer
from ..registry import register


def _mod(hi, lo, shift: int, m: int):
    """((hi << 64 | lo) >> shift) % m for uint64 numpy arrays (0 <= shift <= 64), without 128-bit ints."""
    high, low = hi, lo >> shift if shift else lo
    return ((high % m) * ((1 << (64 - shift)) % m) + low % m) % m


@register
class Address(DigestTransformer):
    name = "address"
    description = "'<number> <street>, <postcode> <city>' from the street and city pools."
    chance_rate = 0.0001
    min_width = 64  # may write longer values than a narrower column holds

    def setup(self):
        self.streets, self.cities = pools.streets(), pools.cities()
        self._streets, self._cities = vector.pool_array(self.streets), vector.pool_array(self.cities)
        self._houses = vector.numbers(np.arange(1, 200))  # house numbers 1..199 and postcodes 10000..99999 are
        self._postcodes = vector.numbers(np.arange(10000, 100000))  # picked like pool values (no cast per row)

    def from_digests(self, block):
        hi, lo = vector.words(block, 0, 8), vector.words(block, 8, 8)
        street = vector.pick(self._streets, _mod(hi, lo, 16, len(self.streets)))
        city = vector.pick(self._cities, _mod(hi, lo, 48, len(self.cities)))
        house = vector.pick(self._houses, _mod(hi, lo, 0, 199))
        postcode = vector.pick(self._postcodes, (hi >> 16) % 90000)
        return vector.join(house, " ", street, ", ", postcode, " ", city)

    def one(self, value):
        n = self.keyed.integer(value, 128)
        street = self.streets[(n >> 16) % len(self.streets)]
        city = self.cities[(n >> 48) % len(self.cities)]
        return f"{1 + n % 199} {street}, {(n >> 80) % 90000 + 10000} {city}"
