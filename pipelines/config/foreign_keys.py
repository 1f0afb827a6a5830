"""Foreign keys a config records offline (the notes `prodlike init` writes beside each FK column), and FK columns
given a rule other than the rule of the key they reference."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml

from prodlike.pipelines.config.model import Config

# init's two notes: `# col: <type>; foreign key: gets exactly the transform of REF (do not set one here)` on a
# column left without a rule, and `col: keep   # <type>; integer key; foreign key to REF (inherits its transform)`
_NOTE = re.compile(r'^\s*#?\s*(?P<col>"(?:[^"\\]|\\.)*"|[^\s:#"][^:#]*?)\s*:\s.*?'
                   r"foreign key(?:: gets exactly the transform of| to) (?P<ref>.+?) \(")


@dataclass(frozen=True)
class RecordedKey:
    """One FK column and the key it references, as init recorded them in the config's comments."""

    table: str
    column: str
    ref_table: str
    ref_column: str


def recorded_keys(text: str, cfg: Config) -> list[RecordedKey]:
    """Every FK relation init's notes record under anonymization.tables (none in a hand-written config)."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    spans = _table_spans(root)
    lines = text.splitlines()
    found = []
    for table, first, last in spans:
        for line in lines[first:last]:
            m = _NOTE.match(line)
            ref = _split(m["ref"], cfg) if m else None
            if ref is not None:
                col = json.loads(m["col"]) if m["col"].startswith('"') else m["col"]
                found.append(RecordedKey(table, col, *ref))
    return found


def _table_spans(root) -> list[tuple[str, int, int]]:
    """(table, first line, line after its last) of each entry under anonymization.tables."""
    tables = _child(_child(root, "anonymization"), "tables")
    if not isinstance(tables, yaml.MappingNode):
        return []
    keys = [k for k, _ in tables.value]
    ends = [k.start_mark.line for k in keys[1:]] + [tables.end_mark.line + 1]
    return [(k.value, k.start_mark.line, end) for k, end in zip(keys, ends)]


def _child(node, key: str):
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if k.value == key), None)


def _split(ref: str, cfg: Config) -> tuple[str, str] | None:
    """(table, column) of a `schema.table.column` reference, the table being one the config lists."""
    tables = [t for t in cfg.anonymization.tables if ref.startswith(t + ".")]
    if not tables:
        return None
    table = max(tables, key=len)
    return table, ref[len(table) + 1:]


def _rule(cfg: Config, table: str, column: str, keys: dict[tuple[str, str], tuple[str, str]],
          seen: frozenset = frozenset()) -> tuple[str, dict] | None:
    """The rule a column ends up with (its own, its table's keep, or inherited through its recorded key);
    None when the config does not say."""
    policy = cfg.anonymization.tables.get(table)
    if policy is None or (table, column) in seen:
        return None
    if policy.keep:
        return "keep", {}
    if column in policy.columns:
        rule = policy.columns[column]
        return rule.transformer, rule.params
    parent = keys.get((table, column))
    return _rule(cfg, *parent, keys, seen | {(table, column)}) if parent else None


def _describe(rule: tuple[str, dict]) -> str:
    return rule[0] + (f" {json.dumps(rule[1], sort_keys=True)}" if rule[1] else "")


def mismatches(text: str, cfg: Config) -> tuple[list[str], int]:
    """(problems, FK relations compared): an FK column given a rule other than its key's, from init's notes."""
    recorded = recorded_keys(text, cfg)
    keys = {(k.table, k.column): (k.ref_table, k.ref_column) for k in recorded}
    problems = []
    for k in recorded:
        policy = cfg.anonymization.tables[k.table]
        if policy.keep or k.column not in policy.columns:
            continue  # no rule of its own: it inherits its key's
        mine, parent = _rule(cfg, k.table, k.column, {}), _rule(cfg, k.ref_table, k.ref_column, keys)
        if parent is not None and (mine[0], mine[1]) != (parent[0], parent[1]):
            problems.append(
                f"anonymization.tables.{k.table}.columns.{k.column}: a foreign key to {k.ref_table}.{k.ref_column}, "
                f"which uses {_describe(parent)}, but this column is given {_describe(mine)}; remove this rule (a "
                f"foreign key column inherits exactly its key's transform, so the two still join)")
    return problems, len(recorded)
