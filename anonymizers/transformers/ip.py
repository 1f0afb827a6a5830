"""ip: a keyed IPv4/IPv6 address, optionally keeping a network prefix."""

import ipaddress

from pydantic import BaseModel, ConfigDict, Field

from ..base import NETWORK, STRING, Transformer
from ..fpe import permute
from ..registry import register


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
