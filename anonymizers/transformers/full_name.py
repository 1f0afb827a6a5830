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

    def many(self, values):
        first, last, nf, nl = self.first, self.last, len(self.first), len(self.last)
        return [f"{first[int.from_bytes(d[0:4], 'big') % nf]} {last[int.from_bytes(d[4:8], 'big') % nl]}"
                for d in self.keyed.digests(values)]

    def one(self, value):
        return self.many([value])[0]
