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
        d = self.keyed.digest(value.lower())
        first = self.parts[int.from_bytes(d[0:4], "big") % len(self.parts)]
        last = self.parts[int.from_bytes(d[4:8], "big") % len(self.parts)]
        tag = base64.b32encode(d[8:16]).decode()[:13].lower()  # 64 keyed bits: unique for unique inputs
        domain = self.params.domain
        if self.params.keep_domain and "@" in value:
            domain = value.rsplit("@", 1)[1]
        return f"{first}.{last}.{tag}@{domain}"
