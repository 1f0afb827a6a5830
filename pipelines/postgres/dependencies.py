"""Dependencies (pg_depend) of the refreshed schemas' objects on objects of other schemas, and whether staging
already has those objects with the same definition."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")

# objects of the given schemas (not extension members) depending on user objects of other schemas (not extension
# members either: extensions are installed in staging by prodlike)
_OUTSIDE = """
SELECT DISTINCT o.type, o.identity, r.type, r.identity, r.schema, d.refclassid::regclass::text, d.refobjid
FROM pg_depend d,
     LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) o,
     LATERAL pg_identify_object(d.refclassid, d.refobjid, 0) r
WHERE d.deptype IN ('n', 'a') AND d.refclassid <> 'pg_namespace'::regclass
  AND o.schema = ANY(%(schemas)s) AND r.schema IS NOT NULL AND NOT r.schema = ANY(%(schemas)s)
  AND NOT r.schema = ANY(%(system)s) AND r.schema NOT LIKE 'pg\\_toast%%' AND r.schema NOT LIKE 'pg\\_temp%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.refclassid AND e.objid = d.refobjid
                  AND e.deptype = 'e')
  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classid AND e.objid = d.objid AND e.deptype = 'e')
ORDER BY 2, 4
"""

# one text standing for an object's definition, the same on both servers when the objects are alike
_DEFINITION = """
SELECT CASE %(class)s
  WHEN 'pg_type' THEN (SELECT concat_ws('|', t.typtype, format_type(t.typbasetype, t.typtypmod), t.typnotnull,
        t.typdefault,
        (SELECT string_agg(pg_get_constraintdef(c.oid), ',' ORDER BY c.conname) FROM pg_constraint c
         WHERE c.contypid = t.oid),
        (SELECT string_agg(enumlabel::text, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid),
        (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
         FROM pg_attribute WHERE attrelid = t.typrelid AND attnum > 0 AND NOT attisdropped))
        FROM pg_type t WHERE t.oid = %(oid)s)
  WHEN 'pg_proc' THEN (SELECT concat_ws('|', p.prokind, pg_get_function_identity_arguments(p.oid),
        pg_get_function_result(p.oid), p.prosrc) FROM pg_proc p WHERE p.oid = %(oid)s)
  WHEN 'pg_class' THEN (SELECT concat_ws('|', c.relkind,
        (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
         FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped),
        CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END) FROM pg_class c WHERE c.oid = %(oid)s)
  ELSE '' END
"""

_ADDRESS = "SELECT type, object_names, object_args FROM pg_identify_object_as_address(%s::regclass, %s, 0)"
_LOOKUP = "SELECT classid::regclass::text, objid FROM pg_get_object_address(%s, %s, %s)"


@dataclass(frozen=True)
class OutsideDependency:
    """Object `what` of a refreshed schema depends on `needs`, which lives in schema `schema` (not refreshed)."""

    kind: str
    what: str
    needs_kind: str
    needs: str
    schema: str
    ref_class: str
    ref_oid: int


def outside(conn: psycopg.Connection, schemas: list[str]) -> list[OutsideDependency]:
    """Every dependency of the schemas' objects on a user object in another schema."""
    rows = conn.execute(_OUTSIDE, {"schemas": list(schemas), "system": list(SYSTEM_SCHEMAS)}).fetchall()
    return [OutsideDependency(*r) for r in rows]


def _definition(conn: psycopg.Connection, cls: str, oid: int) -> str | None:
    return conn.execute(_DEFINITION, {"class": cls, "oid": oid}).fetchone()[0]


def staging_has(prod: psycopg.Connection, stage: psycopg.Connection, dep: OutsideDependency) -> bool:
    """Whether staging has the object dep needs, under the same name and with the same definition."""
    address = prod.execute(_ADDRESS, (dep.ref_class, dep.ref_oid)).fetchone()
    try:
        with stage.transaction():
            found = stage.execute(_LOOKUP, address).fetchone()
    except psycopg.Error:
        return False
    if found is None or found[0] != dep.ref_class:
        return False
    return _definition(prod, dep.ref_class, dep.ref_oid) == _definition(stage, found[0], found[1])


def needed_schemas(conn: psycopg.Connection, schemas: list[str]) -> list[str]:
    """schemas plus every schema their objects depend on, transitively (what `init` lists under schemas:)."""
    out = list(schemas)
    while True:
        extra = sorted({d.schema for d in outside(conn, out)} - set(out))
        if not extra:
            return out
        out += extra
