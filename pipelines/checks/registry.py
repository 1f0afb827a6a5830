"""The one list of checks: each declared once in its own module of this package (name, level, blocking, threshold
key, description, runner); Dagster's check specs, `resume --accept`, the report and the README derive from it."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodlike.pipelines.config.model import Config
from prodlike.pipelines.errors import ProdlikeError

START, END = "<!-- check-reference:start -->", "<!-- check-reference:end -->"
TABLE = "table"    # once per copied table, as soon as its rows, keys and indexes are in the shadow schema
TABLES = "tables"  # once over all copied tables, after the copy (results per table)
RUN = "run"        # once per run, on the run-level parity asset
LEVELS = (TABLE, TABLES, RUN)
_SUPPORT_MODULES = {"registry", "runner"}  # modules of this package that declare no check


class UnknownCheckError(ProdlikeError, ValueError):
    """No check of that name is registered."""


def always(cfg: Config) -> bool:
    return True


@dataclass(frozen=True)
class Check:
    """One check as declared by its module.

    runner: TABLE -> f(TableContext) -> list[CheckResult]; TABLES -> f(RunContext) -> {table: [CheckResult]};
    RUN -> f(RunContext) -> list[CheckResult]. `order` places it among the checks of its level (a runner may read
    the results of an earlier table check through TableContext.results); `enabled` says whether a config runs it.
    """

    name: str
    level: str
    blocking: bool
    thresholds: tuple[str, ...]  # keys under `thresholds:` that judge it (empty: a fixed threshold)
    description: str
    runner: Callable[..., Any]
    order: int = 100
    enabled: Callable[[Config], bool] = always

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ValueError(f"check {self.name!r}: level must be one of {', '.join(LEVELS)}, got {self.level!r}")

    @property
    def threshold_text(self) -> str:
        return ", ".join(f"thresholds.{t}" for t in self.thresholds) or "none (fixed limits, see the description)"


@dataclass
class TableContext:
    """What a table check runs on: the config, staging, the run, one copied table, production's rows at the live
    release, and the results of the table's earlier checks (futures: they may run in parallel)."""

    cfg: Config
    target_dsn: str
    run_id: str
    table: Any  # engine.refresh.TableResult
    previous_rows: dict[str, int]
    earlier: dict[str, Future] = field(default_factory=dict)

    def results(self, name: str) -> list:
        """The results of an earlier check of this table (waits for it)."""
        return self.earlier[name].result()


@dataclass
class RunContext:
    """What a run-level check runs on: the config (and its folder), both servers, the run and its copied tables."""

    cfg: Config
    target_dsn: str
    run_id: str
    source_dsn: str | None = None
    config_dir: Path | None = None
    tables: list[str] = field(default_factory=list)
    copied: list[Any] = field(default_factory=list)


REGISTRY: dict[str, Check] = {}


def register(check: Check) -> Check:
    """Add a check; a second one of the same name fails at import."""
    if check.name in REGISTRY:
        raise RuntimeError(f"check {check.name!r} registered twice: {REGISTRY[check.name].runner.__module__} and "
                           f"{check.runner.__module__}")
    REGISTRY[check.name] = check
    return check


def _load_all() -> None:
    """Import every module of this package: each check module registers its check (adding a check touches only
    its own module)."""
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name not in _SUPPORT_MODULES:
            importlib.import_module(f"{__package__}.{module.name}")


def checks(cfg: Config | None = None, level: str | None = None) -> list[Check]:
    """The registered checks (those cfg enables, of one level), in run order."""
    _load_all()
    found = [c for c in REGISTRY.values() if (level is None or c.level == level) and (cfg is None or c.enabled(cfg))]
    return sorted(found, key=lambda c: (LEVELS.index(c.level), c.order, c.name))


def get(name: str) -> Check:
    """The check called name; an unknown name fails with the closest match and the known names."""
    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownCheckError(f"unknown check {name!r}{hint} (known checks: {', '.join(names())})") from None


def names() -> list[str]:
    return [c.name for c in checks()]


def blocking_names() -> list[str]:
    """The checks whose ERROR blocks a release: what `prodlike resume --accept CHECK[:TABLE]` may accept once."""
    return [c.name for c in checks() if c.blocking]


def run_level_names() -> tuple[str, ...]:
    """Checks judged once per run (no table of their own)."""
    return tuple(c.name for c in checks(level=RUN))


def reference() -> str:
    """The README's list of checks: one row per registered check, in run order."""
    where = {TABLE: "each table, as it lands", TABLES: "each table, once after the copy", RUN: "the run (parity)"}
    rows = [START, "| check | judged on | blocks a release | thresholds | what it compares |", "|---|---|---|---|---|"]
    rows += [f"| `{c.name}` | {where[c.level]} | {'yes (at ERROR)' if c.blocking else 'no'} | {c.threshold_text} | "
             f"{c.description.replace('|', '/')} |" for c in checks()]
    return "\n".join(rows + [END])
