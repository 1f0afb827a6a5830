"""Reads a database catalog (tables, columns, types, constraints, indexes, sequences, views, extensions and the
names of every object of the schemas) into plain dataclasses; every definition is schema-qualified. The DDL
itself comes from pg_dump (postgres/dump.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

QUALIFY_ALL = "SET search_path = pg_catalog"


def qident(name: str) -> str:
    """Quote an identifier the way PostgreSQL would when needed."""
    return sql.Identifier(name).as_string()


def qname(schema: str, name: str) -> str:
    return f"{qident(schema)}.{qident(name)}"


@dataclass
class Column:
    name: str
    type_sql: str
    not_null: bool
    default: str | None
    identity: str  # '', 'a' (always) or 'd' (by default)
    generated: str  # '', 's' (stored) or 'v' (virtual)
    collation: str | None
    type_name: str  # bare type name, e.g. 'text', 'int8', 'citext'
    type_category: str  # pg_type.typcategory: N numeric, S string, D datetime, ...
    base_type_name: str = ""  # a domain's base type (e.g. 'numeric' under a domain money_amount); else type_name

    @property
    def value_type(self) -> str:
        """The type the values have: a domain's base type, else the type itself."""
        return self.base_type_name or self.type_name

    @property
    def copied(self) -> bool:
        """Whether COPY carries this column (generated columns are recomputed)."""
        return not self.generated


@dataclass
class Table:
    schema: str
    name: str
    kind: str  # 'r' plain, 'p' partitioned
    columns: list[Column]
    parent: str | None = None  # qualified parent when a partition
    partition_bound: str | None = None
    partition_key: str | None = None
    rls: bool = False
    estimated_bytes: int = 0
    options: list[str] = field(default_factory=list)
    estimated_rows: int = 0

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def copied_columns(self) -> list[Column]:
        return [c for c in self.columns if c.copied]


@dataclass
class Constraint:
    schema: str
    table: str
    name: str
    kind: str  # p u f c x
    definition: str
    columns: list[str]
    ref_table: str | None = None  # qualified, for FKs
    ref_columns: list[str] = field(default_factory=list)


@dataclass
class Index:
    schema: str
    table: str
    name: str
    definition: str
    parent: str | None = None  # "schema.index" of the partitioned index this one is attached to
    unique: bool = False
    columns: list[str] = field(default_factory=list)  # key columns and columns its expressions or predicate use
    expression: bool = False
    partial: bool = False


@dataclass
class Sequence:
    schema: str
    name: str
    definition: str
    owned_by: tuple[str, str] | None  # (table, column)
    identity: bool
    last_value: int | None


@dataclass
class View:
    schema: str
    name: str
    definition: str
    materialized: bool
    options: list[str] = field(default_factory=list)
    populated: bool = True


@dataclass
class TypeDef:
    schema: str
    name: str
    definition: str


@dataclass
class Catalog:
    """Everything prodlike replicates from the refreshed schemas."""

    schemas: list[str]
    tables: dict[str, Table] = field(default_factory=dict)
    constraints: list[Constraint] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    sequences: list[Sequence] = field(default_factory=list)
    views: list[View] = field(default_factory=list)
    types: list[TypeDef] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)  # name -> schema
    extension_members: set[tuple[str, str]] = field(default_factory=set)  # (schema, name)
    objects: set[tuple[str, str]] = field(default_factory=set)  # (schema, name) of every object of the schemas
    # (schema, name) -> production's OID of every index, constraint-backed ones too: the planner breaks cost ties
    # between indexes by their OID order, so staging builds them in this order
    index_oids: dict[tuple[str, str], int] = field(default_factory=dict)
    server_version: int = 0

    def leaves(self, qualified: str) -> list[Table]:
        """The tables holding rows of qualified: itself, or its leaf partitions (recursively)."""
        t = self.tables[qualified]
        if t.kind != "p":
            return [t]
        out: list[Table] = []
        for child in self.tables.values():
            if child.parent == qualified:
                out.extend(self.leaves(child.qualified))
        return out

    def partition_tree(self, qualified: str) -> list[Table]:
        """qualified and all its partitions at any depth, parents before children."""
        out, stack = [], [qualified]
        while stack:
            q = stack.pop(0)
            out.append(self.tables[q])
            stack += [t.qualified for t in self.tables.values() if t.parent == q]
        return out

    def top_level(self) -> list[Table]:
        """Tables that are not partitions, in name order."""
        return sorted((t for t in self.tables.values() if t.parent is None), key=lambda t: t.qualified)

    def foreign_keys(self) -> list[Constraint]:
        return [c for c in self.constraints if c.kind == "f"]


_TABLES = """
SELECT n.nspname, c.relname, c.relkind, c.oid, c.relrowsecurity,
       CASE WHEN c.relispartition THEN pn.nspname || '.' || p.relname END,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
       pg_total_relation_size(c.oid), coalesce(c.reloptions, '{}'), greatest(c.reltuples, 0)::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
LEFT JOIN pg_class p ON p.oid = i.inhparent LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY c.oid
"""

_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
       CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
       t.typname, t.typcategory, bt.typname
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_CONSTRAINTS = """
SELECT n.nspname, c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid),
       ARRAY(SELECT attname FROM unnest(k.conkey) WITH ORDINALITY u(n, o)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY o),
       CASE WHEN k.contype = 'f' THEN rn.nspname || '.' || r.relname END,
       ARRAY(SELECT attname FROM unnest(k.confkey) WITH ORDINALITY u(n, o)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY o)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class r ON r.oid = k.confrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE n.nspname = ANY(%s) AND k.contype IN ('p', 'u', 'f', 'c', 'x') AND k.conparentid = 0
  AND (k.contype <> 'c' OR k.conislocal) AND c.relkind IN ('r', 'p')
ORDER BY CASE k.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2 WHEN 'c' THEN 3 ELSE 4 END, k.oid
"""

_INDEXES = """
SELECT n.nspname, t.relname, ic.relname, pg_get_indexdef(i.indexrelid),
       (SELECT pn.nspname || '.' || p.relname FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent
        JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE h.inhrelid = i.indexrelid),
       i.indisunique,
       ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum > 0 AND (
                 a.attnum = ANY((i.indkey::int2[])[0:i.indnkeyatts - 1])
                 OR (a.attnum <> ALL(i.indkey::int2[]) AND EXISTS (
                     SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                     AND d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indrelid
                     AND d.refobjsubid = a.attnum)))
             ORDER BY a.attnum),
       i.indexprs IS NOT NULL, i.indpred IS NOT NULL
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = ANY(%s) AND t.relkind IN ('r', 'p', 'm')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p','u','x'))
ORDER BY i.indexrelid
"""

_SEQUENCES = """
SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
       s.seqcache, s.seqcycle,
       (SELECT tn.relname || '|' || a.attname FROM pg_depend d JOIN pg_class tn ON tn.oid = d.refobjid
        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1),
       EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i'),
       ps.last_value
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_sequences ps ON ps.schemaname = n.nspname AND ps.sequencename = c.relname
WHERE n.nspname = ANY(%s)
ORDER BY c.oid
"""

_VIEWS = """
SELECT n.nspname, c.relname, pg_get_viewdef(c.oid), c.relkind = 'm', coalesce(c.reloptions, '{}'),
       c.relispopulated
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('v', 'm')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY c.oid
"""

_TYPES = """
SELECT n.nspname, t.typname, t.typtype,
       ARRAY(SELECT quote_literal(enumlabel) FROM pg_enum WHERE enumtypid = t.oid ORDER BY enumsortorder),
       format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
       ARRAY(SELECT 'CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid)
             FROM pg_constraint WHERE contypid = t.oid AND contype = 'c' ORDER BY oid),
       ARRAY(SELECT quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
             FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_class c ON c.oid = t.typrelid
WHERE n.nspname = ANY(%s) AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND c.relkind = 'c'))
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
ORDER BY t.oid
"""

_EXTENSIONS = """
SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname <> 'plpgsql'
"""

_EXTENSION_MEMBERS = """
SELECT n.nspname, m.name
FROM pg_depend d
JOIN LATERAL (
    SELECT typnamespace, typname FROM pg_type WHERE d.classid = 'pg_type'::regclass AND oid = d.objid
    UNION ALL SELECT pronamespace, proname FROM pg_proc WHERE d.classid = 'pg_proc'::regclass AND oid = d.objid
    UNION ALL SELECT oprnamespace, oprname FROM pg_operator WHERE d.classid = 'pg_operator'::regclass AND oid = d.objid
    UNION ALL SELECT opcnamespace, opcname FROM pg_opclass WHERE d.classid = 'pg_opclass'::regclass AND oid = d.objid
    UNION ALL SELECT opfnamespace, opfname FROM pg_opfamily WHERE d.classid = 'pg_opfamily'::regclass AND oid = d.objid
    UNION ALL SELECT collnamespace, collname FROM pg_collation
              WHERE d.classid = 'pg_collation'::regclass AND oid = d.objid
    UNION ALL SELECT cfgnamespace, cfgname FROM pg_ts_config
              WHERE d.classid = 'pg_ts_config'::regclass AND oid = d.objid
    UNION ALL SELECT dictnamespace, dictname FROM pg_ts_dict WHERE d.classid = 'pg_ts_dict'::regclass AND oid = d.objid
    UNION ALL SELECT relnamespace, relname FROM pg_class WHERE d.classid = 'pg_class'::regclass AND oid = d.objid
) m(nsp, name) ON true
JOIN pg_namespace n ON n.oid = m.nsp
WHERE d.deptype = 'e'
"""


_INDEX_OIDS = """
SELECT n.nspname, c.relname, c.oid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(%s)
"""

_SCHEMA_OBJECTS = """
SELECT n.nspname, o.name FROM pg_namespace n JOIN (
    SELECT relnamespace, relname FROM pg_class
    UNION ALL SELECT typnamespace, typname FROM pg_type
    UNION ALL SELECT pronamespace, proname FROM pg_proc
    UNION ALL SELECT oprnamespace, oprname FROM pg_operator
    UNION ALL SELECT opcnamespace, opcname FROM pg_opclass
    UNION ALL SELECT opfnamespace, opfname FROM pg_opfamily
    UNION ALL SELECT collnamespace, collname FROM pg_collation
    UNION ALL SELECT connamespace, conname FROM pg_conversion
    UNION ALL SELECT stxnamespace, stxname FROM pg_statistic_ext
    UNION ALL SELECT cfgnamespace, cfgname FROM pg_ts_config
    UNION ALL SELECT dictnamespace, dictname FROM pg_ts_dict
    UNION ALL SELECT prsnamespace, prsname FROM pg_ts_parser
    UNION ALL SELECT tmplnamespace, tmplname FROM pg_ts_template
) o(nsp, name) ON o.nsp = n.oid
WHERE n.nspname = ANY(%s)
"""


def _type_def(row: tuple) -> TypeDef:
    schema, name, kind, labels, base, notnull, default, checks, attrs = row
    q = qname(schema, name)
    if kind == "e":
        return TypeDef(schema, name, f"CREATE TYPE {q} AS ENUM ({', '.join(labels)})")
    if kind == "d":
        parts = [f"CREATE DOMAIN {q} AS {base}"]
        parts += [f"DEFAULT {default}"] if default else []
        parts += ["NOT NULL"] if notnull else []
        return TypeDef(schema, name, " ".join(parts + list(checks)))
    return TypeDef(schema, name, f"CREATE TYPE {q} AS ({', '.join(attrs)})")


def _sequence_def(row: tuple) -> Sequence:
    schema, name, typ, start, inc, mn, mx, cache, cycle, owned, identity, last = row
    definition = (f"CREATE SEQUENCE {qname(schema, name)} AS {typ} INCREMENT BY {inc} MINVALUE {mn} "
                  f"MAXVALUE {mx} START WITH {start} CACHE {cache}{' CYCLE' if cycle else ''}")
    owner = tuple(owned.split("|", 1)) if owned else None
    return Sequence(schema, name, definition, owner, bool(identity), last)


def read_catalog(conn: psycopg.Connection, schemas: list[str]) -> Catalog:
    """Read the catalog of schemas over conn (in whatever transaction/snapshot conn holds)."""
    conn.execute(QUALIFY_ALL)
    cat = Catalog(schemas=list(schemas), server_version=conn.info.server_version)
    by_oid: dict[int, Table] = {}
    for schema, name, kind, oid, rls, parent, bound, key, size, opts, est in conn.execute(_TABLES, (schemas,)):
        t = Table(schema, name, kind, [], parent, bound, key, rls, size, list(opts), est)
        by_oid[oid] = t
        cat.tables[t.qualified] = t
    for relid, name, typ, notnull, default, ident, gen, coll, tname, tcat, base in conn.execute(
        _COLUMNS, (list(by_oid),)
    ):
        by_oid[relid].columns.append(Column(name, typ, notnull, default, ident, gen, coll, tname, tcat, base or ""))
    for schema, table, name, kind, definition, cols, ref, refcols in conn.execute(_CONSTRAINTS, (schemas,)):
        cat.constraints.append(Constraint(schema, table, name, kind, definition, list(cols), ref, list(refcols)))
    cat.indexes = [Index(*r[:5], r[5], list(r[6]), r[7], r[8]) for r in conn.execute(_INDEXES, (schemas,))]
    cat.sequences = [_sequence_def(r) for r in conn.execute(_SEQUENCES, (schemas,))]
    cat.views = [View(s, n, d, m, list(o), p) for s, n, d, m, o, p in conn.execute(_VIEWS, (schemas,))]
    cat.types = [_type_def(r) for r in conn.execute(_TYPES, (schemas,))]
    cat.extensions = dict(conn.execute(_EXTENSIONS).fetchall())
    cat.extension_members = {(s, n) for s, n in conn.execute(_EXTENSION_MEMBERS)}
    cat.objects = {(s, n) for s, n in conn.execute(_SCHEMA_OBJECTS, (schemas,))}
    cat.index_oids = {(s, n): oid for s, n, oid in conn.execute(_INDEX_OIDS, (schemas,))}
    return cat
