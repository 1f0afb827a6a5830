"""email: a realistic address at a safe domain, unique for unique inputs."""

import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

from .. import pools, vector
from ..base import DigestTransformer
from ..registry import register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    domain: str = "example.com"
    keep_domain: bool = False


@register
class Email(DigestTransformer):
    name = "email"
    description = "first.last.<64-bit keyed hex tag>@example.com; optionally keeps the original domain."
    Params = Params
    injective = True
    identifier = True
    opaque = True
    person_name = True  # its local part
    format_keeping = True
    min_width = 64  # may write longer values than a narrower column holds
    max_output_length = None

    def setup(self):
        self.parts = pools.ascii_local_parts()
        self._parts = vector.pool_array(self.parts)

    def many(self, values):
        if self.params.keep_domain:
            return [self.one(v) for v in values]
        return self.from_digests(self.keyed.block(list(map(str.lower, values)))).to_pylist()

    def many_arrow(self, values):
        """ASCII addresses only: Arrow's ASCII lower-casing is str.lower() there, not beyond."""
        if self.params.keep_domain or not pc.all(pc.string_is_ascii(values)).as_py():
            return None
        return self.from_digests(self.keyed.block_arrow(pc.ascii_lower(values)))

    def from_digests(self, block):
        n = len(self.parts)
        first = vector.pick(self._parts, vector.words(block, 0, 4) % n)
        last = vector.pick(self._parts, vector.words(block, 4, 4) % n)
        tag = vector.hex_column(block, 8, 16)
        return vector.join(first, ".", last, ".", tag, "@" + self.params.domain)

    def one(self, value):
        d = self.keyed.digest(value.lower())
        first = self.parts[int.from_bytes(d[0:4], "big") % len(self.parts)]
        last = self.parts[int.from_bytes(d[4:8], "big") % len(self.parts)]
        tag = d[8:16].hex()  # 64 keyed bits: unique for unique inputs (a collision is refused by the key)
        domain = self.params.domain
        if self.params.keep_domain and "@" in value:
            domain = value.rsplit("@", 1)[1]
        return f"{first}.{last}.{tag}@{domain}"
