"""Opening production (read-only, safe session settings) and staging connections with clear errors."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from prodlike.pipelines.errors import Transient, redact

APPLICATION_NAME = "prodlike"
TRANSIENT_SQLSTATES = ("40001", "40P01", "55P03", "57P01", "57P02", "57P03")


class UnreachableServerError(Transient, RuntimeError):
    """A configured server could not be reached; the message names which one."""


def is_transient(err: BaseException) -> bool:
    """Connection lost, admin shutdown, serialization failure, deadlock or lock timeout; a `Transient` error."""
    if isinstance(err, Transient):
        return True
    state = getattr(err, "sqlstate", None) or ""
    if isinstance(err, psycopg.OperationalError) and not state:
        return True
    return state.startswith("08") or state in TRANSIENT_SQLSTATES


def _describe(dsn: str) -> str:
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return redact(dsn)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def connect(dsn: str, role: str, **kwargs) -> psycopg.Connection:
    """Connect to `role` ('production' or 'staging'); an UnreachableServerError names the server."""
    try:
        return psycopg.connect(dsn, application_name=APPLICATION_NAME, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as err:
        reason = redact(str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__)
        raise UnreachableServerError(f"cannot connect to {role} ({_describe(dsn)}): {reason}") from None


def production(dsn: str, lock_timeout: timedelta = timedelta(seconds=5)) -> psycopg.Connection:
    """A production session that can only read, never silently skips rows under RLS, and waits
    at most lock_timeout for a lock."""
    ms = int(lock_timeout.total_seconds() * 1000)
    options = f"-c default_transaction_read_only=on -c row_security=off -c lock_timeout={ms}"
    return connect(dsn, "production", options=options)


def staging(dsn: str, autocommit: bool = False) -> psycopg.Connection:
    """A staging session."""
    return connect(dsn, "staging", autocommit=autocommit)
