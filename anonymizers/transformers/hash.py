"""hash: a keyed digest of the value, hex or base64, of a chosen length."""

import base64
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .. import vector
from ..base import DigestTransformer
from ..registry import register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    encoding: Literal["hex", "base64"] = "hex"
    length: int = Field(32, ge=16, le=64, description="Output characters (16 or more: 64+ bits, collision-safe).")


@register
class Hash(DigestTransformer):
    name = "hash"
    description = "Keyed BLAKE2b digest of the value, hex or base64, `length` characters."
    Params = Params
    injective = True
    identifier = True
    opaque = True
    fallback = 3

    def setup(self):
        self.max_output_length = self.params.length

    def many(self, values):
        if self.params.encoding != "hex":
            return [self.one(v) for v in values]
        return super().many(values)

    def many_arrow(self, values):
        return super().many_arrow(values) if self.params.encoding == "hex" else None

    def from_digests(self, block):
        return vector.hex_column(block, 0, self.params.length)

    def one(self, value):
        d = self.keyed.digest(value)
        text = d.hex() if self.params.encoding == "hex" else base64.urlsafe_b64encode(d).decode().rstrip("=")
        return text[: self.params.length]
