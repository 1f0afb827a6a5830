"""Check `leak`: anonymized values equal to their own production input beyond the transformer's chance rate, and
production identifiers anywhere in the staging column (keyed hashes of every row, both sides)."""

from __future__ import annotations

import functools

from prodlike.anonymizers.registry import REGISTRY
from prodlike.anonymizers.registry import get as transformer
from prodlike.pipelines.checks import registry
from prodlike.pipelines.checks.runner import passed, shadow_relation, table_profile, threshold
from prodlike.pipelines.postgres import connections
from prodlike.pipelines.postgres.catalog import qident
from prodlike.validators.distributions import _as_copy_text
from prodlike.validators.leaks import Scan, anti_join, distinct_check, free_text_check, overlap_check, unchanged_check
from prodlike.validators.results import CheckResult

NAME = "leak"
FREE_TEXT = "free_text_leaks"  # the thresholds key judging free-text columns (the rest has fixed limits)


def leak(tr, target_dsn: str | None = None, cfg=None) -> list[CheckResult]:
    """(a) Per anonymized column: rows whose output equals their own input (counted in the transform path)
    against the transformer's documented chance rate; transformers that may keep a value (keep, mask) are not
    judged so. Free text (partial transformers: regex_redact, json; and kept text in a table with person-name
    columns) is judged by the share of rows still holding a production name, e-mail or phone of their row
    (thresholds.free_text_leaks of `cfg`, per table and column; default and without `cfg`: any row is an error).
    (b) Per identifier column (email, hash, phone, ip, tokenize): staged values equal to any production value of
    the column, by anti-join of keyed hashes taken from the copy stream, and the distinct count they keep."""
    prof = table_profile(tr)
    unchanged: dict[str, int] = {}
    for leaf in tr.leaves:
        for name, count in leaf.unchanged.items():
            unchanged[name] = unchanged.get(name, 0) + count
    found = []
    for name, spec in (prof.specs.items() if prof is not None else []):
        cls = transformer(spec.transformer)
        if (spec.anonymized and cls.partial) or (not spec.anonymized and name in unchanged):  # free text
            col = prof.profiles[name]
            limit = threshold(cfg, FREE_TEXT, tr.table, name) if cfg is not None else None
            found.append(free_text_check(tr.table, name, spec.transformer, unchanged.get(name, 0),
                                         col.rows - col.nulls, limit))
            continue
        chance = cls.chance_rate if spec.anonymized else 1.0
        if chance < 1.0:
            col = prof.profiles[name]
            found.append(unchanged_check(tr.table, name, spec.transformer, chance, unchanged.get(name, 0),
                                         col.rows - col.nulls))
    if target_dsn is not None:
        found += _overlaps(tr, target_dsn, prof)
    return found or [passed(NAME, tr.table, "unchanged_share", f"{tr.table}: no anonymized columns to check")]


def _overlaps(tr, target_dsn: str, prof) -> list[CheckResult]:
    """Leak check (b) and the distinct ratio of identifier columns: every leaf's columns in one anti-join, summed
    over partitions."""
    scans = []
    for leaf in tr.leaves:
        if not leaf.hashes:
            continue
        relation = shadow_relation(leaf.source)
        for col, slot in leaf.hashes["slots"].items():
            spec = prof.specs.get(col) if prof is not None else None
            quoted = qident(col)
            expr = _as_copy_text(quoted, spec) if spec is not None else f"{quoted}::text"
            scans.append((leaf, Scan(relation, col, slot, expr, leaf.hashes["key"])))
    connect = functools.partial(connections.staging, target_dsn, autocommit=True)
    totals: dict[str, dict[str, int]] = {}
    for (leaf, scan), got in zip(scans, anti_join(connect, [scan for _, scan in scans]) if scans else []):
        got["production_present"] = leaf.hashes["present"][scan.column]
        total = totals.setdefault(scan.column, dict.fromkeys(got, 0))
        for k, v in got.items():
            total[k] += v
    found = []
    for col, t in totals.items():
        name = prof.specs[col].transformer if prof is not None and col in prof.specs else "identifier"
        opaque = name in REGISTRY and REGISTRY[name].opaque
        found.append(overlap_check(tr.table, col, name, t["overlap"], t["distinct"], opaque))
        found.append(distinct_check(tr.table, col, name, (t["production_distinct"], t["production_present"]),
                                    (t["distinct"], t["present"])))
    return found


def run(ctx: registry.TableContext) -> list[CheckResult]:
    return leak(ctx.table, ctx.target_dsn, ctx.cfg)


CHECK = registry.register(registry.Check(
    NAME, registry.TABLE, blocking=True, thresholds=(FREE_TEXT,), runner=run, order=15,
    description="Anonymized values equal to their own production input more often than the transformer's chance "
                "rate (counted in the copy stream); production identifiers anywhere in the staging column (keyed "
                "hashes of every row, both sides)."))
