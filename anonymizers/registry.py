"""The transformer registry: explicit, loud (duplicate names fail at import, unknown names suggest the closest)."""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING

from prodlike.pipelines.errors import ProdlikeError

if TYPE_CHECKING:
    from .base import Transformer

REGISTRY: dict[str, type[Transformer]] = {}


class UnknownTransformerError(ProdlikeError, ValueError):
    """No transformer of that name is registered."""


def register(cls: type[Transformer]) -> type[Transformer]:
    """Class decorator adding a transformer under its `name`; a second one of the same name fails."""
    if cls.name in REGISTRY:
        raise RuntimeError(f"transformer {cls.name!r} registered twice: {REGISTRY[cls.name].__module__} and "
                           f"{cls.__module__}")
    REGISTRY[cls.name] = cls
    return cls


def get(name: str) -> type[Transformer]:
    """The transformer class called name; an unknown name fails with the closest matches."""
    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=2)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownTransformerError(
            f"unknown transformer {name!r}{hint} (known: {', '.join(sorted(REGISTRY))})"
        ) from None


def names() -> list[str]:
    _load_all()
    return sorted(REGISTRY)


def _load_all() -> None:
    """Discover the transformers: importing their package registers each (they import this module, never the
    reverse statically: discovery, as the check registry discovers checks)."""
    importlib.import_module(f"{__package__}.transformers")
