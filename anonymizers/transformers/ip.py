"""ip: a keyed IPv4/IPv6 address, optionally keeping a network prefix."""

import ipaddress

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from .. import vector
from ..base import NETWORK, STRING, Transformer
from ..fpe import permute, permute_array
from ..registry import register

# A dotted quad and what follows its first "/" (RE2: \d is ASCII only; anything else goes through one())
DOTTED = r"^(?P<a>\d{1,3})\.(?P<b>\d{1,3})\.(?P<c>\d{1,3})\.(?P<d>\d{1,3})(?:/(?P<mask>.*))?$"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    keep_prefix_v4: int = Field(0, ge=0, le=24, description="Leading IPv4 bits kept.")
    keep_prefix_v6: int = Field(0, ge=0, le=64, description="Leading IPv6 bits kept.")


@register
class Ip(Transformer):
    name = "ip"
    description = "Keyed permutation of the host bits (IPv4 and IPv6); keeps `/mask` and an optional prefix."
    Params = Params
    accepts = frozenset(STRING + NETWORK)
    injective = True
    identifier = True
    format_keeping = True

    def _v4(self, addr: str, mask: str) -> str | None:
        """Fast path for dotted-quad IPv4 (the common case); None when addr is not one."""
        parts = addr.split(".")
        if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 for p in parts):
            return None
        a, b, c, d = (int(p) for p in parts)
        if max(a, b, c, d) > 255:
            return None
        keep = self.params.keep_prefix_v4
        host_bits = 32 - keep
        n = (a << 24) | (b << 16) | (c << 8) | d
        prefix, host = n >> host_bits << host_bits, n & ((1 << host_bits) - 1)
        x = prefix | permute(self.keyed, host, 1 << host_bits, tweak=f"v4/{keep}")
        out = f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}"
        return f"{out}/{mask}" if mask else out

    def many(self, values):
        try:
            column = pa.array(values, pa.string())
        except UnicodeError:  # lone surrogates
            return [self.one(v) for v in values]
        return self.many_arrow(column).to_pylist()

    def many_arrow(self, values):
        """Dotted-quad IPv4 addresses (with what follows a "/") in a few numpy passes, as _v4() computes them one
        by one; every other value through one()."""
        values = values.cast(pa.string())  # one offset width for every column joined below
        found = pc.extract_regex(values, DOTTED)
        matched = found.is_valid()  # a struct's fields hold "" where it is NULL
        quads = [pc.cast(pc.if_else(matched, found.field(f), "0"), pa.int64()).to_numpy() for f in "abcd"]
        fast = matched.to_numpy(zero_copy_only=False) & (np.maximum.reduce(quads) <= 255)
        keep = self.params.keep_prefix_v4
        host_bits = 32 - keep
        n = (quads[0] << 24) | (quads[1] << 16) | (quads[2] << 8) | quads[3]
        x = n >> host_bits << host_bits | permute_array(self.keyed, n & ((1 << host_bits) - 1), 1 << host_bits,
                                                        tweak=f"v4/{keep}")
        out = vector.join(*(vector.numbers((x >> shift) & 255) for shift in (24, 16, 8, 0)), sep=".")
        mask = pc.if_else(matched, found.field("mask"), "")
        out = pc.if_else(pc.equal(mask, ""), out, vector.join(out, mask, sep="/"))
        if fast.all():
            return out
        rest = np.flatnonzero(~fast)
        others = pa.array([self.one(v) for v in values.take(rest).to_pylist()], pa.string())
        return pc.replace_with_mask(out, pa.array(~fast), others)

    def one(self, value):
        addr, _, mask = value.partition("/")
        fast = self._v4(addr, mask)
        if fast is not None:
            return fast
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return self.keyed.digest(value).hex()[: max(len(value), 8)]
        total = ip.max_prefixlen
        keep = self.params.keep_prefix_v4 if ip.version == 4 else self.params.keep_prefix_v6
        host_bits = total - keep
        n = int(ip)
        prefix, host = n >> host_bits << host_bits, n & ((1 << host_bits) - 1)
        new = ipaddress.ip_address(prefix | permute(self.keyed, host, 1 << host_bits, tweak=f"v{ip.version}/{keep}"))
        return f"{new}/{mask}" if mask else str(new)
