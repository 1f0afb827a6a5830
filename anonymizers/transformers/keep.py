"""keep: the column holds no PII; values are copied unchanged."""

from ..base import ANY, Transformer
from ..registry import register


@register
class Keep(Transformer):
    name = "keep"
    description = "Copy the value unchanged (the column holds no PII)."
    accepts = ANY
    injective = True
    chance_rate = 1.0
    keyed_output = False

    def transform(self, values, batch=None):
        return values
