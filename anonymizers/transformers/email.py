"""email: a realistic address at a safe domain, unique for unique inputs."""

import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

from .. import pools, vector
from ..base import DigestTransformer
from ..registry import register

TAG = 16  # hex characters of the keyed tag: 64 bits, collision-safe; never cut


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    domain: str = "example.com"
    keep_domain: bool = False


@register
class Email(DigestTransformer):
    name = "email"
    description = ("first.last.<64-bit keyed hex tag>@example.com; optionally keeps the original domain; under "
                   "varchar(n) first.<tag>@... or <tag>@... (the tag, which makes it unique, is never cut).")
    Params = Params
    injective = True
    identifier = True
    opaque = True
    person_name = True  # its local part
    format_keeping = True
    max_output_length = None

    def setup(self):
        self.parts = pools.ascii_local_parts()
        self._parts = vector.pool_array(self.parts)
        self.min_width = TAG + 1 + len(self.params.domain)  # <tag>@domain: the shortest form that stays unique

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
        tag = vector.hex_column(block, 8, TAG)
        at = "@" + self.params.domain
        full = vector.join(first, ".", last, ".", tag, at)
        limit = self.column.max_length
        if limit is None:
            return full
        shorter = pc.if_else(pc.less_equal(pc.utf8_length(vector.join(first, ".", tag, at)), limit),
                             vector.join(first, ".", tag, at), vector.join(tag, at))
        return pc.if_else(pc.less_equal(pc.utf8_length(full), limit), full, shorter)

    def one(self, value):
        d = self.keyed.digest(value.lower())
        first = self.parts[int.from_bytes(d[0:4], "big") % len(self.parts)]
        last = self.parts[int.from_bytes(d[4:8], "big") % len(self.parts)]
        tag = d[8:16].hex()  # 64 keyed bits: unique for unique inputs (a collision is refused by the key)
        domain = self.params.domain
        if self.params.keep_domain and "@" in value:
            domain = value.rsplit("@", 1)[1]
        limit = self.column.max_length
        for out in (f"{first}.{last}.{tag}@{domain}", f"{first}.{tag}@{domain}", f"{tag}@{domain}"):
            if limit is None or len(out) <= limit:
                return out
        return f"{tag}@{self.params.domain}"  # the original domain does not fit: the configured one does
