"""pg_dump --schema-only of some schemas as comparable lines (headers, SETs and prodlike's extension schema
normalised away): what the schema-parity tests compare between production and staging."""

from __future__ import annotations

import subprocess

from prodlike.pipelines.postgres.dump import pg_dump_path

SKIPPED = ("--", "SET ", "SELECT pg_catalog.set_config", "\\restrict", "\\unrestrict")


def schema_lines(dsn: str, schemas: list[str], ext_schemas: dict[str, str] | None = None) -> list[str]:
    """The dump's lines; ext_schemas maps a staging extension schema to production's (e.g. prodlike_ext ->
    public) so extension objects compare equal."""
    args = [str(pg_dump_path()), "--schema-only", "--no-owner", "--no-privileges", f"--dbname={dsn}"]
    for s in schemas:
        args += ["-n", '"' + s.replace('"', '""') + '"']
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    lines = []
    for line in out.splitlines():
        if not line.strip() or line.startswith(SKIPPED):
            continue
        for staged, prod in (ext_schemas or {}).items():
            line = line.replace(f"{staged}.", f"{prod}.")
        lines.append(line)
    return lines


def dump_diff(production: list[str], staging: list[str]) -> list[str]:
    """unified diff lines of two schema dumps (empty: equal)."""
    import difflib

    return list(difflib.unified_diff(production, staging, "production", "staging", lineterm="", n=1))
