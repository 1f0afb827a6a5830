"""Anonymization on real schemas (../shared/corpus, or $PRODLIKE_CORPUS; skipped when absent): after `init` and
`refresh` with the config unedited, every reviewed PII column keeps production values no more often than its
transformer's documented chance explains, and at most 5% of them got mask, null or constant."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml

from prodlike.anonymizers.registry import get
from prodlike.pipelines.demo import embedded
from prodlike.validators.leaks import allowed_share
from tests.conftest import ROOT, TEST_KEY
from tests.pipelines.onboarding.test_init import run_cli

CORPUS = Path(os.environ.get("PRODLIKE_CORPUS", ROOT.parent / "shared" / "corpus"))
# Reviewed by hand from the corpus README and the data: per database, table -> (key column, PII columns). Left
# out on purpose: categorical attributes (gender, country, state, sex, embarked: kept for review), pet names and
# visit notes about pets, and dellstore2's address2 (NULL in every row).
PII = {
    "dellstore2": {"public.customers": ("customerid", [
        "firstname", "lastname", "address1", "city", "zip", "email", "phone", "creditcard", "creditcardexpiration",
        "username", "password"])},
    "titanic": {"public.passenger": ("passengerid", ["name", "name_wiki", "hometown"])},
    "petclinic": {"public.owners": ("id", ["first_name", "last_name", "address", "city", "telephone"]),
                  "public.vets": ("id", ["first_name", "last_name"])},
    "clubdata": {"cd.members": ("memid", ["surname", "firstname", "address", "zipcode", "telephone"])},
    "netflix": {"public.netflix_shows": ("show_id", ["director", "cast_members"])},
}
MASKING = {"mask", "null", "constant"}
# Free text (regex_redact) replaces only what it recognises: a name spelled otherwise than in the row's name
# columns and absent from the dictionaries passes (README, "It does not catch"). Measured: titanic name_wiki
# 1 of 1,304 rows ('Husayn' beside a name column holding 'Hassan'); every other reviewed column 0.
FREE_TEXT_RESIDUAL = 0.01

pytestmark = pytest.mark.skipif(not (CORPUS / "load.sh").exists(),
                                reason=f"the corpus is not at {CORPUS} (set PRODLIKE_CORPUS to its folder)")


def _load(servers, name: str) -> tuple[str, str]:
    """The corpus database loaded into production under a fresh name, and an empty staging database."""
    prod, stage = servers
    prefix = f"c{uuid.uuid4().hex[:8]}_"
    env = {**os.environ, "PSQL": str(embedded.bin_dir() / "psql"), "CORPUS_DB_PREFIX": prefix}
    loaded = subprocess.run(["bash", str(CORPUS / "load.sh"), prod.dsn(), name], env=env, capture_output=True,
                            text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    embedded.create_database(stage.dsn(), prefix + name)
    return prod.dsn(prefix + name), stage.dsn(prefix + name)


def _values(dsn: str, table: str, key: str, column: str, live: str | None = None) -> dict:
    schema, name = table.split(".", 1)
    query = psycopg.sql.SQL("SELECT {k}::text, {c}::text FROM {s}.{t} WHERE {c} IS NOT NULL").format(
        k=psycopg.sql.Identifier(key), c=psycopg.sql.Identifier(column), s=psycopg.sql.Identifier(live or schema),
        t=psycopg.sql.Identifier(name))
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute(query).fetchall())


# netflix (8,807 long texts) only with PRODLIKE_CORPUS_ALL=1: the suite stays short on a shared machine.
DATABASES = [d for d in PII if d != "netflix" or os.environ.get("PRODLIKE_CORPUS_ALL")]


@pytest.mark.parametrize("database", DATABASES)
def test_reviewed_pii_columns_are_anonymized_realistically(servers, tmp_path, database):
    source, target = _load(servers, database)
    env = {"CORPUS_PROD_DSN": source, "CORPUS_STAGING_DSN": target, "PRODLIKE_ANON_KEY": TEST_KEY.decode()}
    config = tmp_path / "prodlike.yaml"
    out = run_cli("init", "--source-dsn-env", "CORPUS_PROD_DSN", "--target-dsn-env", "CORPUS_STAGING_DSN",
                  "-o", str(config), env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    out = run_cli("refresh", "-c", str(config), env=env, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    rules = yaml.safe_load(config.read_text())["anonymization"]["tables"]
    lines, masked = [], []
    for table, (key, columns) in PII[database].items():
        for column in columns:
            rule = rules[table]["columns"][column]
            name = rule if isinstance(rule, str) else rule["transformer"]
            masked += [f"{table}.{column}"] if name in MASKING else []
            production = _values(source, table, key, column)
            staging = _values(target, table, key, column)
            kept = sum(1 for k, v in production.items() if staging.get(k) == v)
            cls = get(name)
            limit = FREE_TEXT_RESIDUAL if cls.partial else allowed_share(cls.chance_rate, len(production))
            lines.append(f"{table}.{column} ({name}): {kept} of {len(production)} rows keep their value "
                         f"(allowed {limit:.2%})")
            share = kept / len(production) if production else 0.0
            del production, staging  # values never reach an assertion message
            assert name != "keep", lines[-1]
            assert share <= limit, lines[-1]
    total = sum(len(cols) for _, cols in PII[database].values())
    assert len(masked) <= 0.05 * total, masked
    print("\n".join(lines))
    (Path(os.environ.get("PRODLIKE_CORPUS_REPORT", tmp_path)) / f"{database}.txt").write_text("\n".join(lines))
