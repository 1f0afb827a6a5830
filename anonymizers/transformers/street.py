"""street: a house number and a street name from a seeded pool."""

from .. import pools
from ..base import Transformer
from ..registry import register


@register
class Street(Transformer):
    name = "street"
    description = "'<number> <street name>' from a pool of about 1,900 street names."
    chance_rate = 0.001

    def setup(self):
        self.pool = pools.streets()

    def one(self, value):
        n = self.keyed.integer(value, 64)
        return f"{1 + n % 199} {self.pool[(n >> 16) % len(self.pool)]}"
