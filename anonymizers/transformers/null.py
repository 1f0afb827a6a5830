"""null: replace every value by NULL."""

from ..base import ANY, Transformer
from ..registry import register


@register
class Null(Transformer):
    name = "null"
    description = "Replace every value by NULL (the column must be nullable)."
    accepts = ANY
    keyed_output = False
    fallback = 4

    def transform(self, values, batch=None):
        return [None] * len(values)
