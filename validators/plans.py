"""EXPLAIN-plan equivalence: workload queries fingerprinted with sqlglot, planned on production and on the
staging copy, and compared by shape (node types, joins, relations, indexes, direction, sort keys); reading the
same index by another access method is equivalent, not different."""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlglot
from sqlglot import exp

from .results import CheckResult, Threshold, Verdict

IDENTICAL, EQUIVALENT, DIFFERENT_INDEX, DIFFERENT_SHAPE, SKIPPED, FAILED = (
    "identical", "equivalent", "different-index", "different-shape", "skipped", "error")
# Ways to read one relation through one index that the planner picks between on costs alone: which one it picks
# on a freshly loaded copy depends on the visibility map, the physical order of the rows (correlation) and, for
# anonymized columns, their new values' statistics; the same index serves the same predicate either way.
INDEX_ACCESS = ("Index Scan", "Index Only Scan", "Bitmap Heap Scan")
EQUIVALENT_REASON = ("the same relations are read through the same indexes, by another access method (index scan, "
                     "index-only scan or bitmap heap scan): the planner weighs them on the fresh copy's visibility "
                     "map and physical row order, which differ from production's long-lived tables; not counted as "
                     "a difference")
SHAPE_KEYS = ("Node Type", "Join Type", "Relation Name", "Scan Direction", "Sort Key", "Parent Relationship",
              "Strategy", "Partial Mode", "Index Name")


@dataclass
class Query:
    """One workload statement: its text, its fingerprint, whether it has parameters, or why it is unusable."""

    sql: str
    fingerprint: str = ""
    parameterized: bool = False
    error: str | None = None


@dataclass
class PlanComparison:
    query: Query
    verdict: str
    production: list[str] = field(default_factory=list)
    staging: list[str] = field(default_factory=list)
    diff: str = ""
    reason: str = ""


def fingerprint(tree: exp.Expression) -> tuple[str, bool]:
    """(hash of the normalized statement with every literal and parameter as a placeholder, parameterized?)"""
    parameterized = tree.find(exp.Parameter) is not None or tree.find(exp.Placeholder) is not None

    def strip(node: exp.Expression) -> exp.Expression:
        if isinstance(node, (exp.Literal, exp.Parameter)):
            return exp.Placeholder()
        return node

    normalized = tree.copy().transform(strip).sql(dialect="postgres", normalize=True)
    return hashlib.sha256(normalized.encode()).hexdigest()[:16], parameterized


def load_workload(text: str) -> list[Query]:
    """Statements of a SQL file, de-duplicated by fingerprint; unparsable ones kept with their error."""
    out: list[Query] = []
    seen: set[str] = set()
    for raw in _statements(text):
        try:
            tree = sqlglot.parse_one(raw, dialect="postgres")
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as err:
            out.append(Query(raw, error=f"does not parse: {(str(err) or type(err).__name__).splitlines()[0]}"))
            continue
        if isinstance(tree, exp.Command) or not isinstance(tree, (exp.Query, exp.DML)):
            out.append(Query(raw, error="does not parse: not a query sqlglot understands"))
            continue
        fp, parameterized = fingerprint(tree)
        if fp not in seen:
            seen.add(fp)
            out.append(Query(raw, fp, parameterized))
    return out


def _statements(text: str) -> list[str]:
    """The statements of a SQL file, cut at semicolons outside quotes, identifiers and comments (sqlglot's
    tokenizer); a file it cannot tokenize is cut at every semicolon, and the bad statement reports its error."""
    from sqlglot.dialects.postgres import Postgres

    try:
        cuts = [t.start for t in Postgres().tokenize(text) if t.token_type == sqlglot.TokenType.SEMICOLON]
    except sqlglot.errors.TokenError:
        cuts = [i for i, c in enumerate(text) if c == ";"]
    pieces, start = [], 0
    for cut in [*cuts, len(text)]:
        pieces.append(text[start:cut])
        start = cut + 1
    return [p for p in (_without_line_comments(p).strip() for p in pieces) if p]


def _without_line_comments(statement: str) -> str:
    return "\n".join(ln for ln in statement.splitlines() if not ln.strip().startswith("--"))


def explain(conn: psycopg.Connection, query: Query) -> dict:
    """The plan tree of query on conn (FORMAT JSON, COSTS OFF; GENERIC_PLAN when parameterized)."""
    options = "FORMAT JSON, COSTS OFF" + (", GENERIC_PLAN" if query.parameterized else "")
    with conn.transaction():
        row = conn.execute(f"EXPLAIN ({options}) {query.sql}").fetchone()
    doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    return doc[0]["Plan"]


def shape(plan: dict, depth: int = 0, ignore_index: bool = False) -> list[str]:
    """The plan as indented lines of its shape-relevant fields only (costs and row estimates dropped)."""
    parts = []
    for key in SHAPE_KEYS:
        if key in plan and not (ignore_index and key == "Index Name"):
            value = plan[key]
            parts.append(f"{key}={','.join(value) if isinstance(value, list) else value}")
    lines = ["  " * depth + " ".join(parts)]
    for child in plan.get("Plans", []):
        lines += shape(child, depth + 1, ignore_index)
    return lines


def side_by_side(left: list[str], right: list[str], width: int = 60) -> str:
    """Two plan trees in columns; differing lines marked with '!'."""
    out = [f"{'production':<{width}} | staging"]
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        a, b = left[i1:i2], right[j1:j2]
        for k in range(max(len(a), len(b))):
            la, lb = (a[k] if k < len(a) else ""), (b[k] if k < len(b) else "")
            mark = " " if op == "equal" else "!"
            out.append(f"{mark}{la[:width - 1]:<{width - 1}} | {lb}")
    return "\n".join(out)


def differing_lines(left: list[str], right: list[str]) -> dict[str, list[int]]:
    """Indexes of the lines of each plan tree that the other does not match (for highlighting)."""
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    out: dict[str, list[int]] = {"production": [], "staging": []}
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            out["production"] += range(i1, i2)
            out["staging"] += range(j1, j2)
    return out


def access_shape(plan: dict) -> dict:
    """The plan with every single-index read of a relation as one 'Index Access' node (relation and index kept,
    access method and scan direction dropped): a Bitmap Heap Scan over one Bitmap Index Scan, an Index Scan and an
    Index Only Scan on the same index become the same node. BitmapAnd/BitmapOr (several indexes) stay as they are."""
    children = plan.get("Plans", [])
    if plan.get("Node Type") == "Bitmap Heap Scan" and len(children) == 1 \
            and children[0].get("Node Type") == "Bitmap Index Scan":
        index, rest = children[0].get("Index Name"), []
    elif plan.get("Node Type") in INDEX_ACCESS[:2]:
        index, rest = plan.get("Index Name"), children
    else:
        return {**plan, "Plans": [access_shape(c) for c in children]}
    node = {k: v for k, v in plan.items() if k in ("Relation Name", "Parent Relationship")}
    return {**node, "Node Type": "Index Access", "Index Name": index, "Plans": [access_shape(c) for c in rest]}


def compare_plans(prod: dict, stage: dict) -> str:
    if shape(prod) == shape(stage):
        return IDENTICAL
    if shape(access_shape(prod)) == shape(access_shape(stage)):
        return EQUIVALENT
    if shape(access_shape(prod), ignore_index=True) == shape(access_shape(stage), ignore_index=True):
        return DIFFERENT_INDEX
    return DIFFERENT_SHAPE


def compare_workload(prod: psycopg.Connection, stage: psycopg.Connection, queries: list[Query]) -> list[PlanComparison]:
    """Plan every query on both servers (stage's search_path must point at the copy under test)."""
    generic_ok = prod.info.server_version >= 160000 and stage.info.server_version >= 160000
    out = []
    for q in queries:
        if q.error:
            out.append(PlanComparison(q, FAILED, reason=q.error))
            continue
        if q.parameterized and not generic_ok:
            out.append(PlanComparison(q, SKIPPED, reason="parameterized query and production is older than "
                                                          "PostgreSQL 16 (no EXPLAIN GENERIC_PLAN)"))
            continue
        try:
            p, s = explain(prod, q), explain(stage, q)
        except psycopg.Error as err:
            out.append(PlanComparison(q, FAILED, reason=f"EXPLAIN failed: {type(err).__name__} "
                                                       f"({getattr(err, 'sqlstate', '')})"))
            continue
        verdict = compare_plans(p, s)
        cmp = PlanComparison(q, verdict, shape(p), shape(s), reason=EQUIVALENT_REASON if verdict == EQUIVALENT else "")
        if verdict != IDENTICAL:
            cmp.diff = side_by_side(cmp.production, cmp.staging)
        out.append(cmp)
    return out


def plan_check(comparisons: list[PlanComparison], threshold: Threshold) -> CheckResult:
    """The run-level check: share of planned queries whose plans differ; errors never count as passes."""
    planned = [c for c in comparisons if c.verdict in (IDENTICAL, EQUIVALENT, DIFFERENT_INDEX, DIFFERENT_SHAPE)]
    differing = [c for c in planned if c.verdict in (DIFFERENT_INDEX, DIFFERENT_SHAPE)]
    equivalent = [c for c in planned if c.verdict == EQUIVALENT]
    failed = [c for c in comparisons if c.verdict == FAILED]
    skipped = [c for c in comparisons if c.verdict == SKIPPED]
    share = len(differing) / len(planned) if planned else 0.0
    verdict = threshold.judge(share)
    if failed:
        verdict = Verdict.ERROR
    explanation = (f"{len(differing)} of {len(planned)} workload queries plan differently on staging "
                   f"({len(skipped)} skipped, {len(failed)} could not be checked"
                   + (f", {len(equivalent)} read the same indexes by another access method" if equivalent else "")
                   + ")")
    details: list[dict[str, Any]] = [_detail(c) for c in comparisons]
    return CheckResult("plans", None, None, "share_of_queries_with_different_plans", len(planned) - len(differing),
                       len(planned), share, threshold, verdict, explanation, details)


MAX_PLAN_LINES = 80


def _detail(c: PlanComparison) -> dict[str, Any]:
    """One query's entry in the check details; differing plans carry both trees and the differing lines."""
    d: dict[str, Any] = {"fingerprint": c.query.fingerprint, "sql": c.query.sql[:500], "verdict": c.verdict,
                         "reason": c.reason, "diff": c.diff}
    if c.verdict in (EQUIVALENT, DIFFERENT_INDEX, DIFFERENT_SHAPE):
        d["production_plan"] = c.production[:MAX_PLAN_LINES]
        d["staging_plan"] = c.staging[:MAX_PLAN_LINES]
        d["differing"] = differing_lines(c.production, c.staging)
    return d
