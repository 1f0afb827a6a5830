"""ip: a keyed IPv4/IPv6 address, optionally keeping a network prefix."""

import ipaddress
import re

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
_FIELD = re.compile(r"[0-9A-Fa-f]{1,4}")  # a hex group, or a decimal octet of an embedded IPv4 address


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    keep_prefix_v4: int = Field(0, ge=0, le=24, description="Leading IPv4 bits kept.")
    keep_prefix_v6: int = Field(0, ge=0, le=64, description="Leading IPv6 bits kept.")


@register
class Ip(Transformer):
    name = "ip"
    description = ("Keyed permutation of the host bits (IPv4 and IPv6); keeps `/mask` and an optional prefix; under "
                   "varchar(n) the address as written keeps its shape and length (prefixes: whole octets/groups).")
    Params = Params
    accepts = frozenset(STRING + NETWORK)
    injective = True
    identifier = True
    format_keeping = True

    def setup(self):
        self.shaped = self.column.max_length is not None

    def _shaped(self, value: str) -> str:
        """Under a length limit (varchar(n)): the address as written keeps its shape (each IPv4 octet and each hex
        group its digit count, '::', what follows '%' or '/'; hex in lower case), so it is exactly as long as its
        input and fits wherever the input did; the fields past the kept prefix are a keyed permutation of all
        values of that shape (injective). A value that is no address: keyed hex digits of its own length."""
        addr, slash, mask = value.partition("/")
        addr, pct, zone = addr.partition("%")
        mask = pct + zone + slash + mask
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return self.keyed.digest(value).hex()[: len(value)]
        fields = [(m.start(), m.end()) for m in _FIELD.finditer(addr)]
        dotted = addr.rfind(":") < addr.find(".") if "." in addr else False
        kept = _kept_fields(addr, fields, dotted, self.params.keep_prefix_v4 if ip.version == 4
                            else self.params.keep_prefix_v6, ip.version)
        fields = fields[kept:]
        sizes, digits = [], []
        for a, b in fields:
            octet = dotted and a > addr.rfind(":")
            width = b - a
            low = (0 if width == 1 else 10 ** (width - 1)) if octet else 0
            high = (10 ** width if width < 3 else 256) if octet else 16 ** width
            sizes.append((octet, width, low, high))
            digits.append(int(addr[a:b], 10 if octet else 16) - low)
        if any(d < 0 or d >= high - low for d, (_, _, low, high) in zip(digits, sizes)):  # an octet like 010
            return self.keyed.digest(value).hex()[: len(value)]
        x, n = 0, 1
        for d, (_, _, low, high) in zip(digits, sizes):
            x, n = x * (high - low) + d, n * (high - low)
        shape = "".join(("d" if octet else "h") + str(width) for octet, width, _, _ in sizes)
        y = permute(self.keyed, x, n, tweak=f"v{ip.version}-shape/{shape}/{addr.count('::')}/{kept}")
        out, at = [], len(addr)
        for (a, b), (octet, width, low, high) in zip(reversed(fields), reversed(sizes)):
            y, d = divmod(y, high - low)
            out.append(addr[b:at])
            out.append(str(d + low) if octet else format(d, "x").zfill(width))
            at = a
        out.append(addr[:at])
        return "".join(reversed(out)) + mask

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
        if self.shaped:
            return [self._shaped(v) for v in values]
        try:
            column = pa.array(values, pa.string())
        except UnicodeError:  # lone surrogates
            return [self.one(v) for v in values]
        return self.many_arrow(column).to_pylist()

    def many_arrow(self, values):
        """Dotted-quad IPv4 addresses (with what follows a "/") in a few numpy passes, as _v4() computes them one
        by one; every other value through one()."""
        if self.shaped:
            return pa.array(self.many(values.to_pylist()), pa.string())
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
        if self.shaped:
            return self._shaped(value)
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


def _kept_fields(addr: str, fields: list[tuple[int, int]], dotted: bool, bits: int, version: int) -> int:
    """How many leading written fields a kept prefix of `bits` covers whole (IPv4: octets of 8 bits; IPv6: groups
    of 16 bits, '::' standing for the zero groups it omits, an embedded IPv4 address's octets 8 bits each)."""
    if not bits:
        return 0
    if version == 4:
        return min(bits // 8, len(fields))
    gap, last_colon = addr.find("::"), addr.rfind(":")
    octets = [a for a, _ in fields if dotted and a > last_colon]
    hexes = len(fields) - len(octets)
    tail = sum(1 for a, _ in fields[:hexes] if 0 <= gap < a)  # hex groups written after '::'
    ends = []  # the bit where each field ends
    for k in range(hexes):
        group = k if k < hexes - tail else 8 - (2 if octets else 0) - tail + (k - (hexes - tail))
        ends.append(16 * (group + 1))
    ends += [96 + 8 * (i + 1) for i in range(len(octets))]
    kept = 0
    while kept < len(ends) and ends[kept] <= bits:
        kept += 1
    return kept
