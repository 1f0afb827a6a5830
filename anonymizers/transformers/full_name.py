"""full_name: "First Last" from seeded pools."""

from .. import pools
from ..base import Transformer
from ..registry import register


@register
class FullName(Transformer):
    name = "full_name"
    description = "'First Last' from the first- and last-name pools."
    chance_rate = 0.001

    def setup(self):
        self.first, self.last = pools.first_names(), pools.last_names()

    def one(self, value):
        n = self.keyed.integer(value, 64)
        return f"{self.first[n % len(self.first)]} {self.last[(n >> 32) % len(self.last)]}"
