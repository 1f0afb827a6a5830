"""The atomic swap: shadow schemas become live in one transaction, grants and outside dependents follow,
the old release is kept for rollback, and nothing live may depend on a prodlike schema afterwards."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import dict_row
from psycopg.sql import SQL, Identifier

from prodlike.pipelines.engine import faults
from prodlike.pipelines.errors import ProdlikeError
from prodlike.pipelines.postgres.catalog import QUALIFY_ALL, qident, qname
from prodlike.pipelines.postgres.ddl import previous_name, shadow_name

log = logging.getLogger("prodlike")
DROP_STATEMENT_TIMEOUT = timedelta(minutes=5)  # a drop of an old release that runs longer is retried later


class ReleaseError(ProdlikeError, RuntimeError):
    """The swap could not be made safely; staging was left as it was."""


@dataclass
class ReleaseResult:
    release_id: int
    schemas: list[str]
    dropped: list[str]
    pending: list[str] = field(default_factory=list)  # old releases whose drop waited on staging users: retried


def schema_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone() is not None


def _drop_name(schema: str, run_id: str) -> str:
    """Where an old release waits for its drop: unique per release, so a drop still pending never blocks the next."""
    return f"_prodlike_drop_{hashlib.md5(run_id.encode()).hexdigest()[:8]}_{schema}"[:63]


def _bounded(conn: psycopg.Connection, lock_timeout: timedelta, statement_timeout: timedelta | None = None) -> None:
    """This transaction waits at most lock_timeout for a lock staging users hold (and runs at most
    statement_timeout)."""
    conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(lock_timeout.total_seconds() * 1000)}ms",))
    if statement_timeout is not None:
        conn.execute("SELECT set_config('statement_timeout', %s, true)",
                     (f"{int(statement_timeout.total_seconds() * 1000)}ms",))


_OUTSIDE_VIEWS = """
SELECT DISTINCT v.oid, vn.nspname, v.relname, pg_get_viewdef(v.oid)
FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
JOIN pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND v.relkind = 'v'
  AND tn.nspname = ANY(%(live)s) AND NOT vn.nspname = ANY(%(live)s) AND vn.nspname NOT LIKE '\\_prodlike\\_%%'
  AND vn.nspname <> 'prodlike'
ORDER BY v.oid
"""

_OUTSIDE_FKS = """
SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE k.contype = 'f' AND rn.nspname = ANY(%(live)s) AND NOT n.nspname = ANY(%(live)s)
  AND n.nspname NOT LIKE '\\_prodlike\\_%%' AND k.conparentid = 0
"""

_CROSS_DEPENDENCIES = """
SELECT DISTINCT o.type, o.identity, r.type, r.identity
FROM pg_depend d,
     LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) o,
     LATERAL pg_identify_object(d.refclassid, d.refobjid, d.refobjsubid) r
WHERE d.deptype IN ('n', 'a', 'i')
  AND (o.schema = ANY(%(live)s) OR split_part(o.identity, '.', 1) = ANY(%(live_for)s))
  AND (r.schema LIKE '\\_prodlike\\_%%' OR r.identity LIKE '\\_prodlike\\_%%'
       OR r.identity LIKE 'for \\_prodlike\\_%%')
"""


def cross_dependencies(conn: psycopg.Connection, live: list[str]) -> list[tuple]:
    """Objects of the live schemas that depend on anything in another prodlike schema (must be none)."""
    live_for = [f"for {s}" for s in live] + live
    return conn.execute(_CROSS_DEPENDENCIES, {"live": live, "live_for": live_for}).fetchall()


def _grants(conn: psycopg.Connection, src: str, dst: str) -> list[str]:
    """GRANT statements giving dst's objects the privileges src's same-named objects have."""
    out = []
    for grantee, priv, grantable in conn.execute(
        "SELECT coalesce(r.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable FROM pg_namespace n, "
        "aclexplode(n.nspacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE n.nspname = %s AND a.grantee <> n.nspowner", (src,)
    ):
        who = grantee if grantee == "PUBLIC" else qident(grantee)
        out.append(f"GRANT {priv} ON SCHEMA {qident(dst)} TO {who}{' WITH GRANT OPTION' * grantable}")
    for name, kind, grantee, priv, grantable in conn.execute(
        "SELECT c.relname, c.relkind, coalesce(r.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a "
        "LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE n.nspname = %s AND c.relkind IN ('r','p','v','m','S','f') AND a.grantee <> c.relowner", (src,)
    ):
        if not conn.execute("SELECT to_regclass(%s)", (qname(dst, name),)).fetchone()[0]:
            continue
        what = "SEQUENCE" if kind == "S" else "TABLE"
        who = grantee if grantee == "PUBLIC" else qident(grantee)
        out.append(f"GRANT {priv} ON {what} {qname(dst, name)} TO {who}{' WITH GRANT OPTION' * grantable}")
    objtypes = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES"}
    for owner, objtype, grantee, priv, grantable in conn.execute(
        "SELECT o.rolname, d.defaclobjtype, coalesce(r.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable "
        "FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace "
        "JOIN pg_roles o ON o.oid = d.defaclrole, aclexplode(d.defaclacl) a "
        "LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE n.nspname = %s", (src,)
    ):
        if objtype in objtypes:
            who = grantee if grantee == "PUBLIC" else qident(grantee)
            out.append(f"ALTER DEFAULT PRIVILEGES FOR ROLE {qident(owner)} IN SCHEMA {qident(dst)} "
                       f"GRANT {priv} ON {objtypes[objtype]} TO {who}{' WITH GRANT OPTION' * grantable}")
    return out


def swap(
    conn: psycopg.Connection,
    schemas: list[str],
    run_id: str,
    snapshot_time: datetime,
    tables: dict,
    keep_previous: bool = True,
    lock_timeout: timedelta = timedelta(seconds=5),
    checks: list | None = None,
    durations: dict | None = None,
) -> ReleaseResult:
    """Make the shadow schemas live in ONE transaction; then drop the oldest release separately."""
    to_drop: list[str] = []
    retry_pending_drops(conn, lock_timeout)
    with conn.transaction():
        conn.execute(QUALIFY_ALL)
        _bounded(conn, lock_timeout)
        owners = dict(conn.execute("SELECT schema_name, run_id FROM prodlike.shadow").fetchall())
        for s in schemas:
            if not schema_exists(conn, shadow_name(s)):
                raise ReleaseError(f"no shadow schema {shadow_name(s)} to release; run the copy first")
            if owners.get(s) != run_id:
                raise ReleaseError(
                    f"shadow of schema {s!r} belongs to run {owners.get(s)!r}, not {run_id!r}: "
                    f"another refresh replaced it; this run cannot release"
                )
        views = conn.execute(_OUTSIDE_VIEWS, {"live": schemas}).fetchall()
        fks = conn.execute(_OUTSIDE_FKS, {"live": schemas}).fetchall()
        for s in schemas:
            live, shadow, prev = s, shadow_name(s), previous_name(s)
            if schema_exists(conn, prev):
                conn.execute(f"ALTER SCHEMA {qident(prev)} RENAME TO {qident(_drop_name(s, run_id))}")
                to_drop.append(_drop_name(s, run_id))
            grants: list[str] = []
            if schema_exists(conn, live):
                grants = _grants(conn, live, shadow)
                target = prev if keep_previous else _drop_name(s, run_id)
                if not keep_previous:
                    to_drop.append(target)
                conn.execute(f"ALTER SCHEMA {qident(live)} RENAME TO {qident(target)}")
            conn.execute(f"ALTER SCHEMA {qident(shadow)} RENAME TO {qident(live)}")
            for g in grants:
                conn.execute(g.replace(qident(shadow), qident(live)))
        _repoint_outside(conn, views, fks)
        leftovers = cross_dependencies(conn, schemas)
        if leftovers:
            shown = "; ".join(f"{o[0]} {o[1]} -> {o[2]} {o[3]}" for o in leftovers[:5])
            raise ReleaseError(f"after the swap, live objects still depend on old releases: {shown}")
        conn.execute("DELETE FROM prodlike.shadow WHERE schema_name = ANY(%s)", (schemas,))
        release_id = conn.execute(
            "INSERT INTO prodlike.releases (run_id, snapshot_time, schemas, tables, durations, checks) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (run_id, snapshot_time, schemas, json.dumps(tables), json.dumps(durations or {}),
             json.dumps(checks or [])),
        ).fetchone()[0]
        conn.execute("UPDATE prodlike.runs SET status = 'released', finished_at = now() WHERE run_id = %s",
                     (run_id,))
        for name in to_drop:  # recorded with the swap: a run killed before its drop leaves it to the next one
            conn.execute("INSERT INTO prodlike.pending_drops (schema_name, run_id) VALUES (%s, %s) "
                         "ON CONFLICT (schema_name) DO NOTHING", (name, run_id))
        faults.point("release.swap")
    faults.point("release.drop")
    dropped = [name for name in to_drop if drop_old(conn, name, lock_timeout)]
    return ReleaseResult(release_id, schemas, dropped, [name for name in to_drop if name not in dropped])


def drop_old(conn: psycopg.Connection, name: str, lock_timeout: timedelta) -> bool:
    """Drop an old release, waiting at most lock_timeout on staging users; False (and recorded for a retry by the
    next run or the settle sensor) when they still hold it. Never blocks a release: it has concluded already."""
    try:
        with conn.transaction():
            _bounded(conn, lock_timeout, DROP_STATEMENT_TIMEOUT)
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(name)))
            conn.execute("DELETE FROM prodlike.pending_drops WHERE schema_name = %s", (name,))
        return True
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as err:
        reason = "a staging session holds a lock on it" if isinstance(err, psycopg.errors.LockNotAvailable) \
            else f"the drop ran longer than {DROP_STATEMENT_TIMEOUT}"
        log.warning("old release %s not dropped yet: %s; retried by the next run", name, reason)
        conn.execute("UPDATE prodlike.pending_drops SET attempts = attempts + 1, last_error = %s "
                     "WHERE schema_name = %s", (reason, name))
        return False


def retry_pending_drops(conn: psycopg.Connection, lock_timeout: timedelta) -> list[str]:
    """Drop the old releases an earlier drop left behind (bounded as in drop_old); the ones dropped now."""
    if conn.execute("SELECT to_regclass('prodlike.pending_drops')").fetchone()[0] is None:
        return []
    names = [r[0] for r in conn.execute("SELECT schema_name FROM prodlike.pending_drops ORDER BY since").fetchall()]
    return [name for name in names if drop_old(conn, name, lock_timeout)]


def _repoint_outside(conn: psycopg.Connection, views: list, fks: list) -> None:
    """Views and foreign keys outside the refreshed schemas follow the names to the new live schemas."""
    for _oid, vschema, vname, definition in views:
        conn.execute(f"CREATE OR REPLACE VIEW {qname(vschema, vname)} AS {definition}")
    for fschema, ftable, fname, definition in fks:
        conn.execute(f"ALTER TABLE {qname(fschema, ftable)} DROP CONSTRAINT {qident(fname)}")
        conn.execute(f"ALTER TABLE {qname(fschema, ftable)} ADD CONSTRAINT {qident(fname)} {definition}")


def rollback(conn: psycopg.Connection, schemas: list[str], lock_timeout: timedelta = timedelta(seconds=5)) -> dict:
    """Swap the previous release back in, in ONE transaction (the release it replaces becomes the previous
    one, so a second rollback undoes the first); record it as a `rollback` release. Returns the new row."""
    with conn.transaction():
        conn.execute(QUALIFY_ALL)
        conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout.total_seconds() * 1000)}")
        rows = conn.execute("SELECT run_id, snapshot_time, tables, durations, checks FROM prodlike.releases "
                            "ORDER BY id DESC LIMIT 2").fetchall()
        missing = [previous_name(s) for s in schemas if not schema_exists(conn, previous_name(s))]
        if len(rows) < 2 or missing:
            why = "only one release was ever made" if len(rows) < 2 else f"{', '.join(missing)} does not exist"
            raise ReleaseError(f"nothing to roll back to: {why} (keep_previous: true keeps one previous release)")
        run_id, snapshot_time, tables, durations, checks = rows[1]
        views = conn.execute(_OUTSIDE_VIEWS, {"live": schemas}).fetchall()
        fks = conn.execute(_OUTSIDE_FKS, {"live": schemas}).fetchall()
        for s in schemas:
            swap_name = f"_prodlike_swap_{s}"[:63]
            grants = _grants(conn, s, previous_name(s))
            conn.execute(f"ALTER SCHEMA {qident(s)} RENAME TO {qident(swap_name)}")
            conn.execute(f"ALTER SCHEMA {qident(previous_name(s))} RENAME TO {qident(s)}")
            conn.execute(f"ALTER SCHEMA {qident(swap_name)} RENAME TO {qident(previous_name(s))}")
            for g in grants:
                conn.execute(g.replace(qident(previous_name(s)), qident(s)))
        _repoint_outside(conn, views, fks)
        leftovers = cross_dependencies(conn, schemas)
        if leftovers:
            shown = "; ".join(f"{o[0]} {o[1]} -> {o[2]} {o[3]}" for o in leftovers[:5])
            raise ReleaseError(f"after the rollback, live objects would depend on old releases: {shown}")
        with conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "INSERT INTO prodlike.releases (run_id, kind, snapshot_time, schemas, tables, durations, checks) "
                "VALUES (%s, 'rollback', %s, %s, %s, %s, %s) RETURNING *",
                (run_id, snapshot_time, schemas, json.dumps(tables), json.dumps(durations), json.dumps(checks)),
            ).fetchone()


def drop_stale_shadows(conn: psycopg.Connection, schemas: list[str],
                       lock_timeout: timedelta = timedelta(seconds=5)) -> list[str]:
    """Remove shadow schemas a failed run left behind (never touches live or previous), and old releases whose
    drop is pending (those only when no staging session holds them)."""
    dropped = retry_pending_drops(conn, lock_timeout)
    for s in schemas:
        name = shadow_name(s)
        if schema_exists(conn, name):
            with conn.transaction():
                _bounded(conn, lock_timeout)
                conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(name)))
            dropped.append(name)
    with conn.transaction():
        conn.execute("DELETE FROM prodlike.shadow WHERE schema_name = ANY(%s)", (schemas,))
    return dropped
