"""numeric_noise: keyed, mean-preserving relative noise on numbers."""

from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, Field

from ..base import NUMERIC, Transformer
from ..registry import register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    relative: float = Field(0.1, gt=0, le=1, description="Noise amplitude: x * (1 + u), u uniform in +-relative.")


@register
class NumericNoise(Transformer):
    name = "numeric_noise"
    description = ("x * (1 + u) with keyed u uniform in [-relative, relative]: the mean is preserved in "
                   "expectation; the spread grows by at most `relative`. Keeps the input's decimal places.")
    Params = Params
    accepts = frozenset(NUMERIC)
    chance_rate = 0.01

    def one(self, value):
        try:
            d = Decimal(value)
        except InvalidOperation:
            return value
        if not d.is_finite():
            return value
        u = (self.keyed.fraction(value) * 2 - 1) * self.params.relative
        out = d * (1 + Decimal(repr(u)))
        exp = d.as_tuple().exponent
        if isinstance(exp, int) and exp <= 0:
            return str(out.quantize(Decimal(1).scaleb(exp)))
        return str(out)
