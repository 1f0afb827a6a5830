"""The schema renamer works on tokens: qualifiers of objects of refreshed schemas and extension members change;
string literals, bodies, comments and table-qualified columns never do."""

from __future__ import annotations

import pytest

from prodlike.pipelines.postgres.rename import Renamer
from prodlike.pipelines.postgres.sqltokens import LexError, tokenize

RENAME = Renamer(
    schemas={"public": "_prodlike_shadow_public", "person": "_prodlike_shadow_person"},
    extension_members={("public", "vector"), ("public", "vector_cosine_ops"), ("public", "<=>")},
    extension_schemas={"public": "prodlike_ext"},
    objects={("public", "t"), ("public", "seq"), ("public", "f"), ("person", "person"), ("public", "We ird"),
             ("public", "vector"), ("public", "vector_cosine_ops")},
)

CASES = [
    # a table of a refreshed schema
    ("SELECT * FROM public.t", 'SELECT * FROM "_prodlike_shadow_public".t'),
    # a string literal that looks like a qualified name is data
    ("CHECK (note <> 'public.t')", "CHECK (note <> 'public.t')"),
    # E'' strings with escaped quotes stay whole
    (r"DEFAULT E'public.t\' x'", r"DEFAULT E'public.t\' x'"),
    # a dollar-quoted body binds by name at run time: untouched
    ("AS $$SELECT * FROM public.t$$", "AS $$SELECT * FROM public.t$$"),
    # comments, nested block comments included
    ("-- public.t\n/* a /* public.t */ b */ public.t",
     '-- public.t\n/* a /* public.t */ b */ "_prodlike_shadow_public".t'),
    # a regclass literal names an object (bound by OID): renamed inside the literal
    ("nextval('public.seq'::regclass)", "nextval('\"_prodlike_shadow_public\".seq'::regclass)"),
    # ...also written ::pg_catalog.regclass
    ("'public.seq'::pg_catalog.regclass", "'\"_prodlike_shadow_public\".seq'::pg_catalog.regclass"),
    # a column qualified by a table named like its schema is not a schema qualifier
    ("SELECT person.id FROM person.person", 'SELECT person.id FROM "_prodlike_shadow_person".person'),
    # schema.table.column (OWNED BY): only the first part is the schema
    ("OWNED BY public.t.id", 'OWNED BY "_prodlike_shadow_public".t.id'),
    # extension members go to the schema where staging keeps the extension
    ("embedding public.vector(3)", 'embedding "prodlike_ext".vector(3)'),
    ("USING hnsw (e public.vector_cosine_ops)", 'USING hnsw (e "prodlike_ext".vector_cosine_ops)'),
    ("a OPERATOR(public.<=>) b", 'a OPERATOR("prodlike_ext".<=>) b'),
    # quoted identifiers with spaces and doubled quotes
    ('SELECT 1 FROM public."We ird"', 'SELECT 1 FROM "_prodlike_shadow_public"."We ird"'),
    # schemas not refreshed stay
    ("SELECT pg_catalog.now(), other.x", "SELECT pg_catalog.now(), other.x"),
    # COMMENT ON SCHEMA names the schema itself
    ("COMMENT ON SCHEMA person IS 'person.person'", "COMMENT ON SCHEMA \"_prodlike_shadow_person\" IS 'person.person'"),
]


@pytest.mark.parametrize("sql,expected", CASES, ids=[c[0][:30] for c in CASES])
def test_renamer(sql, expected):
    assert RENAME(sql) == expected


@pytest.mark.parametrize("text", ["SELECT 'a;b' FROM \"x\"\"y\" -- c\n", "$f$ $$ $f$", "U&\"d\\0061t\" 1.5e3 $1"])
def test_tokens_give_the_text_back(text):
    assert "".join(t.text for t in tokenize(text)) == text


@pytest.mark.parametrize("text", ["SELECT 'open", 'SELECT "open', "/* open", "$$ open"])
def test_unterminated_text_is_a_lex_error(text):
    with pytest.raises(LexError, match="unterminated"):
        tokenize(text)
