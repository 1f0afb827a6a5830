"""Realistic value pools: built once with a seeded Faker (`python -m prodlike.anonymizers.pools`), shipped
as sorted text files so every process and every Faker version indexes the very same lists."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

POOL_SEED = 20261127
LOCALES = ["en_US", "de_DE", "fr_FR", "pt_BR", "es_ES", "nl_NL", "pl_PL"]
DATA = Path(__file__).with_name("data")
SIZES = {"first_names": ("first_name", 3000), "last_names": ("last_name", 3000), "cities": ("city", 2000),
         "streets": ("street_name", 2000)}


def build(name: str) -> list[str]:
    """Generate pool `name` with Faker, one seeded instance per locale, sorted and de-duplicated."""
    from faker import Faker

    method, size = SIZES[name]
    seen: set[str] = set()
    per_locale = size // len(LOCALES) + 1
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(POOL_SEED)
        seen.update(getattr(fake, method)() for _ in range(per_locale))
    return sorted(v for v in seen if "\n" not in v)


@cache
def _load(name: str) -> tuple[str, ...]:
    return tuple((DATA / f"{name}.txt").read_text(encoding="utf-8").splitlines())


def first_names() -> tuple[str, ...]:
    return _load("first_names")


def last_names() -> tuple[str, ...]:
    return _load("last_names")


def cities() -> tuple[str, ...]:
    return _load("cities")


def streets() -> tuple[str, ...]:
    return _load("streets")


@cache
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


if __name__ == "__main__":
    DATA.mkdir(exist_ok=True)
    for pool in SIZES:
        values = build(pool)
        (DATA / f"{pool}.txt").write_text("\n".join(values) + "\n", encoding="utf-8")
        print(f"{pool}: {len(values)} values", file=sys.stderr)
