"""full_name: "First Last" from seeded pools."""

from .. import pools, vector
from ..base import DigestTransformer
from ..registry import register


@register
class FullName(DigestTransformer):
    name = "full_name"
    description = "'First Last' from the first- and last-name pools."
    chance_rate = 0.001
    person_name = True
    min_width = 64  # may write longer values than a narrower column holds

    def setup(self):
        self.first, self.last = pools.first_names(), pools.last_names()
        self._first, self._last = vector.pool_array(self.first), vector.pool_array(self.last)

    def from_digests(self, block):
        first = vector.pick(self._first, vector.words(block, 0, 4) % len(self.first))
        last = vector.pick(self._last, vector.words(block, 4, 4) % len(self.last))
        return vector.join(first, last, sep=" ")
