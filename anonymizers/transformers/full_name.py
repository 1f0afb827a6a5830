"""full_name: "First Last" from seeded pools, composed within the column's length limit."""

import numpy as np

from .. import pools, vector
from ..base import DigestTransformer
from ..fit import FittedPool
from ..registry import register


@register
class FullName(DigestTransformer):
    name = "full_name"
    description = "'First Last' from the first- and last-name pools; under varchar(n) both names chosen to fit."
    chance_rate = 0.001
    person_name = True

    def setup(self):
        self.first, self.last = FittedPool(pools.first_names()), FittedPool(pools.last_names())
        self.min_width = self.first.min_width() + 1 + self.last.min_width()

    def from_digests(self, block):
        first = vector.words(block, 0, 4) % np.uint64(len(self.first.pool))
        last = vector.words(block, 4, 4) % np.uint64(len(self.last.pool))
        limit = self.column.max_length
        if limit is not None and limit < self.first.longest + 1 + self.last.longest:
            first = self.first.within(first.astype(np.int64), vector.words(block, 8, 8),
                                      limit - 1 - self.last.min_width())
            room = limit - 1 - self.first.length_of(first)
            last = self.last.within(last.astype(np.int64), vector.words(block, 16, 8), room)
        return vector.join(self.first.take(first), self.last.take(last), sep=" ")
