"""Referential integrity of a copy: orphan rows of every foreign key, and sequences behind their column's max."""

from __future__ import annotations

import psycopg

from .results import CheckResult, Threshold, Verdict

_FKS = """
SELECT c.relname, k.conname, r.relname,
       ARRAY(SELECT quote_ident(attname) FROM unnest(k.conkey) WITH ORDINALITY u(n, o)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY o),
       ARRAY(SELECT quote_ident(attname) FROM unnest(k.confkey) WITH ORDINALITY u(n, o)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY o),
       quote_ident(n.nspname), quote_ident(rn.nspname)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE k.contype = 'f' AND n.nspname = %s AND k.conparentid = 0
"""
_SEQUENCES = """
SELECT t.relname, quote_ident(a.attname), quote_ident(sn.nspname) || '.' || quote_ident(s.relname)
FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
WHERE d.deptype IN ('a', 'i') AND sn.nspname = %s
"""


def integrity(conn: psycopg.Connection, schema: str, table_prefix: str) -> dict[str, list[CheckResult]]:
    """Results per table (keyed `table_prefix.table`) for the copy in `schema`."""
    out: dict[str, list[CheckResult]] = {}
    for child, name, parent, cols, refcols, cschema, pschema in conn.execute(_FKS, (schema,)).fetchall():
        not_null = " AND ".join(f"c.{c} IS NOT NULL" for c in cols)
        match = " AND ".join(f"p.{r} = c.{c}" for c, r in zip(cols, refcols))
        orphans = conn.execute(f'SELECT count(*) FROM {cschema}."{child}" c WHERE {not_null} AND NOT EXISTS '
                               f'(SELECT 1 FROM {pschema}."{parent}" p WHERE {match})').fetchone()[0]
        verdict = Verdict.ERROR if orphans else Verdict.PASS
        out.setdefault(f"{table_prefix}.{child}", []).append(CheckResult(
            "referential_integrity", f"{table_prefix}.{child}", ",".join(cols), f"orphans:{name}", 0, orphans,
            float(orphans), Threshold(error=0), verdict,
            f"{orphans:,} row(s) of {child} reference no {parent} row through {name}"))
    for table, column, seq in conn.execute(_SEQUENCES, (schema,)).fetchall():
        last, called = conn.execute(f"SELECT last_value, is_called FROM {seq}").fetchone()
        top = conn.execute(f'SELECT max({column}) FROM '
                           f'"{schema}"."{table}"').fetchone()[0]
        next_value = last + 1 if called else last
        behind = top is not None and next_value <= top
        out.setdefault(f"{table_prefix}.{table}", []).append(CheckResult(
            "referential_integrity", f"{table_prefix}.{table}", column, f"sequence:{seq}", top, next_value,
            None, Threshold(error=0), Verdict.ERROR if behind else Verdict.PASS,
            f"sequence {seq} would next give {next_value} while max({column}) is {top}"))
    return out
