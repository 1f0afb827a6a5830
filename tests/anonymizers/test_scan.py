"""`prodlike scan`: suggestions and masked evidence on the demo database and on a table it never saw;
`--write` appends commented suggestions and the refresh stays refused until a person reviews them."""

from __future__ import annotations

import yaml

from prodlike.pipelines.onboarding.scan import scan
from tests.conftest import make_config
from tests.pipelines.cli.test_cli import run_cli

LEADS_SQL = """
CREATE TABLE leads (id serial PRIMARY KEY, contact text, notes text, origin text, payload jsonb, score int,
                    holder text);
INSERT INTO leads (contact, notes, origin, payload, score, holder)
SELECT 'lead' || g || '@prospect.example', CASE WHEN g % 2 = 0 THEN 'call me at +44 20 7946 ' || lpad(g::text, 4, '0')
       ELSE 'no contact details' END, '203.0.113.' || (g % 250), jsonb_build_object('mail', 'x' || g || '@y.example'),
       g % 100, (ARRAY['Aaron', 'Abel', 'Abigail'])[1 + g % 3] || ' ' || (ARRAY['Aachen', 'Abreu'])[1 + g % 2]
FROM generate_series(1, 300) g;
"""


def test_scan_suggests_from_values_on_an_unseen_table(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(LEADS_SQL)
    cfg = make_config(dbs, monkeypatch, {})
    found = {f.column: f for f in scan(cfg, dbs.source)}
    assert (found["contact"].suggestion, found["contact"].evidence) == ("email", "200/200 values match email")
    assert found["notes"].suggestion == "regex_redact" and "values contain phone" in found["notes"].evidence
    assert found["origin"].suggestion == "ip"
    assert found["payload"].suggestion == "json" and "documents contain email" in found["payload"].evidence
    assert found["score"].suggestion == "keep"
    assert found["holder"].suggestion == "full_name"
    assert all(f.current is None for f in found.values() if f.column != "id")


def test_scan_cli_on_demo_prints_evidence_not_values_and_write_keeps_refusing(demo_dbs, tmp_path):
    with demo_dbs.src() as src:
        src.execute("ALTER TABLE customers ADD COLUMN backup_email text")
        src.execute("UPDATE customers SET backup_email = 'b.' || email")
        emails = [r[0] for r in src.execute("SELECT email::text FROM customers LIMIT 50")]
    from prodlike.pipelines.definitions import DEMO_CONFIG

    cfg = yaml.safe_load(DEMO_CONFIG.read_text())
    path = tmp_path / "prodlike.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {"PRODLIKE_DEMO_SOURCE_DSN": demo_dbs.source, "PRODLIKE_DEMO_TARGET_DSN": demo_dbs.target,
           "PRODLIKE_DEMO_ANON_KEY": "k" * 40}
    out = run_cli("scan", "-c", str(path), env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "public.customers.backup_email" in out.stdout and "unclassified" in out.stdout
    assert "values match email" in out.stdout
    assert not any(e in out.stdout for e in emails)
    out = run_cli("scan", "-c", str(path), "--write", env=env)
    assert "appended 1 commented suggestion(s)" in out.stdout
    text = path.read_text()
    assert "#       backup_email: email    # text; " in text
    assert yaml.safe_load(text) == cfg  # comments only: nothing is classified for the person
    refused = run_cli("preflight", "-c", str(path), env=env)
    assert refused.returncode == 2 and "backup_email (suggested: email)" in refused.stdout




LATE_SQL = """
CREATE TABLE accounts (id serial PRIMARY KEY, backup_contact text, country varchar(40), blob bytea, plan text);
INSERT INTO accounts (backup_contact, country, blob, plan)
SELECT CASE WHEN g > 4500 THEN 'late' || g || '@mail.example' END, (ARRAY['Germany', 'Mexico', 'Spain'])[1 + g % 3],
       CASE WHEN g = 1 THEN decode(repeat('00ff', 1000000), 'hex') END, (ARRAY['free', 'pro'])[1 + g % 2]
FROM generate_series(1, 5000) g;
"""


def test_scan_samples_beyond_the_first_rows_and_bounded_bytes(dbs, monkeypatch):
    """A column filled only in the last rows is still classified from its values; a 2 MB bytea arrives cut to
    4096 bytes by the server; low-cardinality text without PII evidence is proposed as keep (categorical)."""
    from prodlike.pipelines.onboarding import scan as onboarding_scan
    from prodlike.pipelines.postgres import connections

    with dbs.src() as src:
        src.execute(LATE_SQL)
    cfg = make_config(dbs, monkeypatch, {})
    found = {f.column: f for f in scan(cfg, dbs.source)}
    assert (found["backup_contact"].suggestion, found["backup_contact"].evidence) == (
        "email", "200/200 values match email")
    assert found["country"].suggestion == "keep"
    assert found["country"].evidence == "categorical: 3 distinct values in 200 sampled, none matches a PII pattern"
    assert found["plan"].suggestion == "keep" and found["blob"].suggestion == "keep"
    shape = [c for c in onboarding_scan.shapes(*_catalog(dbs, cfg))["public.accounts"].columns if c.name == "blob"]
    with connections.production(dbs.source) as conn:
        values = onboarding_scan._sample(conn, "public", "accounts", shape)
    assert len(values[0]) == 1 and len(values[0][0]) == 2 + 2 * 4096  # '\x' and two hex digits per byte


def _catalog(dbs, cfg):
    from prodlike.pipelines.postgres import connections
    from prodlike.pipelines.postgres.catalog import read_catalog

    with connections.production(dbs.source) as conn:
        cat = read_catalog(conn, cfg.schemas)
    return cat, [t.qualified for t in cat.top_level()]
