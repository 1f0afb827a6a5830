"""Production's DDL as pg_dump writes it (schema only, inside the run's snapshot), split into its TOC entries."""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from prodlike.pipelines.config.secrets import redact
from prodlike.pipelines.errors import ProdlikeError
from prodlike.pipelines.postgres.sqltokens import Token, quote_ident, tokenize

SECTIONS = ("pre-data", "post-data")
_HEADER = re.compile(r"^-- Name: (.*); Type: ([A-Z][A-Z ]*); Schema: (.*); Owner: (.*)$")
_RESTRICT = re.compile(r"^\\(?:un)?restrict [A-Za-z0-9]+$", re.MULTILINE)
_DUMP_OPTIONS = ["--schema-only", "--no-owner", "--no-privileges", "--no-security-labels", "--no-publications",
                 "--no-subscriptions", "--no-tablespaces", "--no-statistics", "--no-sync"]


class DumpError(ProdlikeError, RuntimeError):
    """pg_dump could not read production's schema."""


@dataclass
class Entry:
    """One object of the dump: pg_dump's type (TABLE, INDEX, FK CONSTRAINT, ...), its schema and name, its SQL."""

    kind: str
    schema: str | None
    name: str
    sql: str
    section: str

    @property
    def label(self) -> str:
        """How errors name it: kind and qualified name (never row values)."""
        where = f"{self.schema}." if self.schema else ""
        return f"{self.kind.lower()} {where}{self.name}"


def pg_dump_path() -> Path:
    """The pg_dump shipped with the embedded server package (major 18: reads servers up to 18)."""
    from prodlike.pipelines.demo.embedded import bin_dir  # the wheel's path helper; no server is started

    return bin_dir() / "pg_dump"


def _pattern(*parts: str) -> str:
    """A pg_dump name pattern matching exactly these names (quoted: no wildcard is special)."""
    return ".".join(quote_ident(p) for p in parts)


def filter_text(schemas: list[str], excluded_tables: list[str]) -> str:
    """pg_dump --filter lines: the refreshed schemas, minus the excluded tables and their partitions."""
    lines = [f"include schema {_pattern(s)}" for s in schemas]
    lines += [f"exclude table_and_children {_pattern(*q.split('.', 1))}" for q in excluded_tables]
    return "\n".join(lines) + "\n"


def _environment(dsn: str) -> tuple[str, dict]:
    """The conninfo without its password, and an environment carrying the password (never on a command line)."""
    params = conninfo_to_dict(dsn)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**params), env


def _run(dsn: str, section: str, filters: str, snapshot: str | None, lock_timeout: timedelta) -> str:
    conninfo, env = _environment(dsn)
    args = [str(pg_dump_path()), *_DUMP_OPTIONS, f"--section={section}", "--filter=-",
            f"--lock-wait-timeout={max(1, int(lock_timeout.total_seconds() * 1000))}", "--encoding=UTF8",
            f"--dbname={conninfo}"]
    if snapshot:
        args.append(f"--snapshot={snapshot}")
    done = subprocess.run(args, input=filters.encode(), capture_output=True, env=env)
    if done.returncode != 0:
        why = redact(done.stderr.decode("utf-8", "replace").strip())[:1500]
        raise DumpError(f"pg_dump --schema-only of production failed ({section}): {why}")
    return done.stdout.decode("utf-8")


def parse(text: str, section: str) -> list[Entry]:
    """The TOC entries of pg_dump's plain output, in its order (pg_depend, topologically sorted)."""
    text = _RESTRICT.sub("", text)
    entries: list[Entry] = []
    current: tuple[str, str | None, str] | None = None
    body: list[Token] = []

    def close() -> None:
        if current is not None:
            sql = "".join(t.text for t in body).strip()
            if sql:
                entries.append(Entry(current[0], current[1], current[2], sql, section))

    for tok in tokenize(text):
        m = _HEADER.match(tok.text) if tok.kind == "comment" else None
        if m:
            close()
            name, kind, schema = m.group(1), m.group(2), m.group(3)
            current, body = (kind, None if schema == "-" else schema, name), []
        elif current is not None and tok.kind != "comment":
            body.append(tok)
    close()
    return entries


def read(dsn: str, schemas: list[str], excluded_tables: list[str], snapshot: str | None,
         lock_timeout: timedelta = timedelta(seconds=5)) -> list[Entry]:
    """Every pre-data then post-data entry of the refreshed schemas, read inside `snapshot` when given."""
    filters = filter_text(schemas, excluded_tables)
    with ThreadPoolExecutor(len(SECTIONS)) as pool:
        texts = list(pool.map(lambda s: _run(dsn, s, filters, snapshot, lock_timeout), SECTIONS))
    return [e for section, text in zip(SECTIONS, texts) for e in parse(text, section)]
