"""mask: keep the first and last N characters, mask the rest."""

from pydantic import BaseModel, ConfigDict, Field

from ..base import Transformer
from ..registry import register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    keep_first: int = Field(0, ge=0)
    keep_last: int = Field(4, ge=0)
    char: str = Field("*", min_length=1, max_length=1)


@register
class Mask(Transformer):
    name = "mask"
    description = "Keep the first `keep_first` and last `keep_last` characters; replace the rest by `char`."
    Params = Params
    chance_rate = 1.0  # values no longer than keep_first + keep_last stay as they are
    keyed_output = False
    fallback = 1

    def one(self, value):
        p = self.params
        n = len(value)
        if n <= p.keep_first + p.keep_last:
            return p.char * n
        return value[: p.keep_first] + p.char * (n - p.keep_first - p.keep_last) + value[n - p.keep_last:]
