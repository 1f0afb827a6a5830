"""date_shift: shift dates and timestamps by a keyed offset, the same for one entity."""

import re
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

from ..base import DATETIME, STRING, Transformer
from ..registry import register

_TZ = re.compile(r"([+-]\d{2})(:?\d{2})?(:?\d{2})?$")


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_days: int = Field(30, ge=1, le=36500, description="Offsets lie in [-max_days, +max_days] (never 0).")
    entity: str | None = Field(None, description="Column whose value keys the offset (one offset per entity).")


def shift_text(value: str, days: int) -> str:
    """Shift a PostgreSQL ISO date or timestamp text by whole days, keeping its format."""
    if value in ("infinity", "-infinity"):
        return value
    bc = value.endswith(" BC")
    if bc:
        return value
    if len(value) == 10:
        return (date.fromisoformat(value) + timedelta(days=days)).isoformat()
    head, sep, rest = value.partition(" ")
    d = date.fromisoformat(head) + timedelta(days=days)
    return d.isoformat() + sep + rest


@register
class DateShift(Transformer):
    name = "date_shift"
    description = ("Shift by a keyed offset within +-max_days (time of day kept); with `entity`, every date "
                   "of one entity moves by the same offset so intervals between its events stay.")
    Params = Params
    accepts = frozenset(DATETIME + STRING)
    chance_rate = 0.0

    def setup(self):
        self.reads = (self.params.entity,) if self.params.entity else ()

    def _offset(self, basis: str) -> int:
        """A keyed offset in [-max_days, -1] or [1, max_days]: never 0."""
        span = self.params.max_days
        d = self.keyed.index(basis, 2 * span)
        return d - span if d < span else d - span + 1

    def transform(self, values, batch=None):
        if not self.params.entity:
            return super().transform(values, batch)
        keys = batch.columns[self.params.entity]
        return [None if v is None else shift_text(v, self._offset("entity:" + (k or ""))) for v, k in zip(values, keys)]

    def one(self, value):
        return shift_text(value, self._offset(value))
