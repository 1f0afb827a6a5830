"""last_name: a last name from a seeded pool."""

from .. import pools
from ..base import Transformer
from ..registry import register


@register
class LastName(Transformer):
    name = "last_name"
    description = "A last name from a pool of about 1,900 (several locales)."
    chance_rate = 0.01

    def setup(self):
        self.pool = pools.last_names()

    def many(self, values):
        pool = self.pool
        return [pool[i] for i in self.keyed.indexes(values, len(pool))]

    def one(self, value):
        return self.pool[self.keyed.index(value, len(self.pool))]
