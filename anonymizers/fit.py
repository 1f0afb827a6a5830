"""Length limits (varchar(n), char(n)): pool entries chosen by the keyed hash among those that fit a budget."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import vector

MIN_CHOICES = 20  # a width that leaves fewer pool entries than this is too narrow: the pick would be near-constant


class FittedPool:
    """A pool and the same entries sorted by length, so that the entries of at most b characters are a prefix:
    a pick within a budget is by_length[h % count[b]], vectorized for a whole batch and per-row budgets."""

    def __init__(self, pool: Sequence[str]):
        self.pool = tuple(pool)
        self.array = vector.pool_array(self.pool)
        self.lengths = np.array([len(p) for p in self.pool], dtype=np.int64)
        order = np.argsort(self.lengths, kind="stable")
        self.by_length = self.array.take(pa.array(order))
        self.longest = int(self.lengths.max())
        self.count = np.searchsorted(self.lengths[order], np.arange(self.longest + 1), side="right")
        self.both = pa.concat_arrays([self.array, self.by_length])  # default picks, then picks within a budget
        self.both_lengths = np.concatenate([self.lengths, self.lengths[order]])

    def min_width(self, choices: int = MIN_CHOICES) -> int:
        """The narrowest budget that leaves `choices` entries (or the whole pool when it is smaller)."""
        return int(np.searchsorted(self.count, min(choices, len(self.pool))))

    def within(self, default: np.ndarray, other: np.ndarray, budget: np.ndarray | int) -> np.ndarray:
        """Indexes into `both`: the default pick where it fits the budget, else by_length[other % count[budget]]
        (budgets below the shortest entry take the shortest: the policy refuses such widths beforehand)."""
        budget = np.clip(budget, 0, self.longest)
        fits = self.lengths[default] <= budget
        if fits.all():
            return default
        room = np.maximum(self.count[budget], 1)
        return np.where(fits, default, len(self.pool) + (other % room.astype(np.uint64)).astype(np.int64))

    def take(self, indexes: np.ndarray) -> pa.Array:
        return self.both.take(pa.array(np.asarray(indexes, dtype=np.int64)))

    def length_of(self, indexes: np.ndarray) -> np.ndarray:
        """The length of each picked entry (indexes into `both`)."""
        return self.both_lengths[np.asarray(indexes, dtype=np.int64)]


def pad(values: pa.Array, width: int) -> pa.Array:
    """char(n): every value right-padded with spaces to n characters, as PostgreSQL stores it."""
    return pc.utf8_rpad(values, width=width, padding=" ")
