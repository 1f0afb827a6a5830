"""birth_date: keep the year (or an age band), key the rest."""

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..base import DATETIME, STRING, Transformer
from ..registry import register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    keep: Literal["year", "band"] = "year"
    band_years: int = Field(10, ge=2, le=50, description="Width of the age band when keep is 'band'.")


@register
class BirthDate(Transformer):
    name = "birth_date"
    description = "A keyed date in the same year (keep: year) or the same band of `band_years` years (keep: band)."
    Params = Params
    accepts = frozenset(DATETIME + STRING)
    chance_rate = 1 / 365

    def one(self, value):
        if len(value) < 10 or not value[:4].isdigit():
            return value
        year = int(value[:4])
        if self.params.keep == "band":
            start = year - year % self.params.band_years
            year = start + self.keyed.index(value, self.params.band_years, "year")
        first = date(year, 1, 1)
        days = (date(year + 1, 1, 1) - first).days
        return (first + timedelta(days=self.keyed.index(value, days, "day"))).isoformat() + value[10:]
