"""Real databases nobody here wrote: every entry of ../shared/corpus (clubdata, petclinic, titanic, netflix,
world, french_towns, dellstore2, listmonk_schema, synapse_schema, adventureworks_schema) is loaded with its
load.sh into the test production server, then `init` and an unedited refresh (copy + release): it must release
with the same pg_dump --schema-only as production and the same row count in every table. The corpus stays
outside the project (some entries are GPL/AGPL or unlicensed); the test skips where it is absent."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from prodlike.pipelines.config.model import load
from prodlike.pipelines.demo.embedded import bin_dir
from prodlike.pipelines.engine.refresh import Refresh
from prodlike.pipelines.onboarding.init import init
from tests.conftest import ROOT, TEST_KEY, _drop
from tests.pipelines.postgres.schema_dump import dump_diff, schema_lines

CORPUS = Path(os.environ.get("PRODLIKE_CORPUS", ROOT.parent / "shared" / "corpus"))
ENTRIES = ["adventureworks_schema", "clubdata", "dellstore2", "french_towns", "listmonk_schema", "netflix",
           "petclinic", "synapse_schema", "titanic", "world"]
pytestmark = pytest.mark.skipif(not (CORPUS / "load.sh").exists(),
                                reason=f"corpus not found at {CORPUS} (set PRODLIKE_CORPUS to its folder)")

COUNTS = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(%s) AND c.relkind = 'r' ORDER BY 1
"""


def _load(servers, entry: str) -> str:
    prod, _ = servers
    prefix = f"corpus_{uuid.uuid4().hex[:6]}_"
    base = prod.dsn().rsplit("/", 1)[0]
    env = {**os.environ, "PSQL": str(bin_dir() / "psql"), "CORPUS_DB_PREFIX": prefix}
    done = subprocess.run(["bash", str(CORPUS / "load.sh"), base, entry], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return prefix + entry


def _extension_schemas(prod: psycopg.Connection, stage: psycopg.Connection) -> dict[str, str]:
    """Staging extension schema -> production's, where prodlike installed an extension elsewhere."""
    query = "SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
    theirs = dict(prod.execute(query).fetchall())
    return {s: theirs[e] for e, s in stage.execute(query).fetchall() if e in theirs and theirs[e] != s}


@pytest.mark.parametrize("entry", ENTRIES)
def test_corpus_entry_releases_unedited_after_init(servers, tmp_path, monkeypatch, entry):
    prod, stage = servers
    source_db, target_db = _load(servers, entry), f"corpus_stage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stage.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{target_db}"')
    source, target = prod.dsn(source_db), stage.dsn(target_db)
    try:
        monkeypatch.setenv("PRODLIKE_SOURCE_DSN", source)
        monkeypatch.setenv("PRODLIKE_TARGET_DSN", target)
        monkeypatch.setenv("PRODLIKE_ANON_KEY", TEST_KEY.decode())
        path = tmp_path / "prodlike.yaml"
        init(path)
        cfg = load(path)  # unedited
        r = Refresh(cfg, source, target, uuid.uuid4().hex, TEST_KEY)
        list(r.copy())
        r.release()
        with psycopg.connect(source, autocommit=True) as src, psycopg.connect(target, autocommit=True) as dst:
            ext = _extension_schemas(src, dst)
            tables = [t for (t,) in src.execute(COUNTS, (list(cfg.schemas),))]
            counts = {t: src.execute(f"SELECT count(*) FROM ONLY {t}").fetchone()[0] for t in tables}
            staged = {t: dst.execute(f"SELECT count(*) FROM ONLY {t}").fetchone()[0] for t in tables}
        assert staged == counts
        diff = dump_diff(schema_lines(source, cfg.schemas), schema_lines(target, cfg.schemas, ext))
        assert diff == []
    finally:
        _drop(prod, source_db)
        _drop(stage, target_db)
