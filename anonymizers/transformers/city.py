"""city: a city name from a seeded pool."""

from .. import pools
from ..base import Transformer
from ..registry import register


@register
class City(Transformer):
    name = "city"
    description = "A city name from a pool of about 1,400 (several locales)."
    chance_rate = 0.05

    def setup(self):
        self.pool = pools.cities()

    def many(self, values):
        pool = self.pool
        return [pool[i] for i in self.keyed.indexes(values, len(pool))]

    def one(self, value):
        return self.pool[self.keyed.index(value, len(self.pool))]
