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

    def one(self, value):
        addr, _, mask = value.partition("/")
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
