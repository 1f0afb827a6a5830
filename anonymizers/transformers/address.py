"""address: a full one-line postal address from seeded pools."""

from .. import pools
from ..base import Transformer
from ..registry import register


@register
class Address(Transformer):
    name = "address"
    description = "'<number> <street>, <postcode> <city>' from the street and city pools."
    chance_rate = 0.0001

    def setup(self):
        self.streets, self.cities = pools.streets(), pools.cities()

    def one(self, value):
        n = self.keyed.integer(value, 128)
        street = self.streets[(n >> 16) % len(self.streets)]
        city = self.cities[(n >> 48) % len(self.cities)]
        return f"{1 + n % 199} {street}, {(n >> 80) % 90000 + 10000} {city}"
