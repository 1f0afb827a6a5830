"""Realistic value pools built once per process with a seeded Faker, indexed by keyed hashes."""

from __future__ import annotations

from functools import lru_cache

POOL_SEED = 20261127
LOCALES = ["en_US", "de_DE", "fr_FR", "pt_BR", "es_ES", "it_IT", "nl_NL", "pl_PL"]


def _unique(method: str, n: int, locales: list[str] | None = None) -> tuple[str, ...]:
    from faker import Faker

    fake = Faker(locales or LOCALES)
    fake.seed_instance(POOL_SEED)
    seen: dict[str, None] = {}
    for _ in range(n * 4):
        seen.setdefault(getattr(fake, method)(), None)
        if len(seen) >= n:
            break
    return tuple(sorted(seen))


@lru_cache(maxsize=None)
def first_names() -> tuple[str, ...]:
    return _unique("first_name", 3000)


@lru_cache(maxsize=None)
def last_names() -> tuple[str, ...]:
    return _unique("last_name", 3000)


@lru_cache(maxsize=None)
def cities() -> tuple[str, ...]:
    return _unique("city", 2000)


@lru_cache(maxsize=None)
def streets() -> tuple[str, ...]:
    return _unique("street_name", 2000)


@lru_cache(maxsize=None)
def ascii_local_parts() -> tuple[str, ...]:
    """Lower-case ASCII name fragments for e-mail local parts."""
    import unicodedata

    out = set()
    for n in first_names() + last_names():
        a = unicodedata.normalize("NFKD", n).encode("ascii", "ignore").decode().lower()
        a = "".join(ch for ch in a if ch.isalnum())
        if a:
            out.add(a)
    return tuple(sorted(out))
