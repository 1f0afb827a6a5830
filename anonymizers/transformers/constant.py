"""constant: replace every non-NULL value by one fixed value."""

from pydantic import BaseModel, ConfigDict

from ..base import ANY, Transformer
from ..registry import register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: str


@register
class Constant(Transformer):
    name = "constant"
    description = "Replace every non-NULL value by `value` (given as PostgreSQL text)."
    Params = Params
    accepts = ANY
    keyed_output = False

    def setup(self):
        self.max_output_length = len(self.params.value)

    def one(self, value):
        return self.params.value
