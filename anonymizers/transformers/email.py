"""email: a realistic address at a safe domain, unique for unique inputs."""

import base64

from pydantic import BaseModel, ConfigDict

from .. import pools
from ..base import Transformer
from ..registry import register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    domain: str = "example.com"
    keep_domain: bool = False


@register
class Email(Transformer):
    name = "email"
    description = "first.last.<64-bit keyed tag>@example.com; optionally keeps the original domain."
    Params = Params
    injective = True
    identifier = True
    max_output_length = None

    def setup(self):
        self.parts = pools.ascii_local_parts()

    def one(self, value):
        n = self.keyed.integer(value.lower(), 128)
        first = self.parts[n % len(self.parts)]
        last = self.parts[(n >> 20) % len(self.parts)]
        tag = base64.b32encode(((n >> 40) & ((1 << 65) - 1)).to_bytes(9, "big")).decode().rstrip("=").lower()[-13:]
        domain = self.params.domain
        if self.params.keep_domain and "@" in value:
            domain = value.rsplit("@", 1)[1]
        return f"{first}.{last}.{tag}@{domain}"
