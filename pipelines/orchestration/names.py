"""Asset key parts for PostgreSQL names, both ways (no Dagster: the terminal and report decode them too)."""

from __future__ import annotations

import re

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*$")
_ESCAPE = re.compile(r"_([0-9a-f]+)_")


def asset_name(name: str) -> str:
    """A PostgreSQL name as one asset key part (Dagster accepts only [A-Za-z0-9_]): a plain name (letters,
    digits, single inner underscores) as is; any other one as `_` + its letters and digits with every other
    character written `_<hex code point>_`. Reversible (name_of_asset), and never equal to a plain name."""
    if _PLAIN_NAME.match(name):
        return name
    return "_" + "".join(c if c.isascii() and c.isalnum() else f"_{ord(c):x}_" for c in name)


def name_of_asset(part: str) -> str:
    """The PostgreSQL name an asset key part stands for (the inverse of asset_name)."""
    if not part.startswith("_"):
        return part
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), part[1:])


def table_of_path(path: list[str]) -> str:
    """The qualified production table of a table asset key's path (other keys: their path after `staging`)."""
    if len(path) != 3:
        return "/".join(path[1:])
    return f"{name_of_asset(path[1])}.{name_of_asset(path[2])}"
