"""Rewrites schema qualifiers in DDL token by token: refreshed schemas to their shadow, extension members
to the schema where staging keeps that extension; string literals, bodies and comments stay untouched."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from prodlike.pipelines.postgres.sqltokens import (
    Token,
    literal_body,
    quote_ident,
    quote_literal,
    tokenize,
)

# literals cast to these types name an object (bound by OID when the DDL runs), so they are identifiers
OBJECT_NAME_TYPES = {"regclass", "regproc", "regprocedure", "regtype", "regoper", "regoperator", "regconfig",
                     "regdictionary", "regnamespace", "regcollation"}


@dataclass
class Renamer:
    """schemas: production schema -> staging schema; extension_members: (schema, name) of every object an
    extension owns; extension_schemas: production extension schema -> staging extension schema; objects:
    (schema, name) of every object of the refreshed schemas, or None to rewrite every `schema.` qualifier.

    `a.b` is a schema-qualified name or a column qualified by its table (`person.id` in a view reading table
    person.person of schema person): only names of objects that exist in that schema are rewritten."""

    schemas: dict[str, str]
    extension_members: set[tuple[str, str]]
    extension_schemas: dict[str, str]
    objects: set[tuple[str, str]] | None = None

    def schema_for(self, schema: str, member: str | None) -> str | None:
        """The staging schema replacing qualifier `schema` in front of `member`, or None (unchanged)."""
        if member is not None and (schema, member) in self.extension_members and schema in self.extension_schemas:
            return self.extension_schemas[schema]
        if schema in self.schemas and (self.objects is None or (schema, member) in self.objects):
            return self.schemas[schema]
        return None

    def __call__(self, text: str) -> str:
        return "".join(t.text for t in self.tokens(tokenize(text)))

    def identifier(self, schema: str, name: str) -> sql.Identifier:
        """The staging twin of production object schema.name (a relation of a refreshed schema: its shadow)."""
        return sql.Identifier(self.schemas.get(schema, schema), name)

    def table(self, qualified: str) -> str:
        """identifier() of a "schema.name" string, as SQL text."""
        return self.identifier(*qualified.split(".", 1)).as_string(None)

    def tokens(self, tokens: list[Token]) -> list[Token]:
        """tokens with every schema qualifier (and object-name literal) rewritten."""
        out = list(tokens)
        sig = [i for i, t in enumerate(tokens) if t.kind not in ("ws", "comment")]
        for n, i in enumerate(sig):
            tok = tokens[i]
            prev = tokens[sig[n - 1]] if n else None
            nxt = tokens[sig[n + 1]] if n + 1 < len(sig) else None
            if tok.kind == "string" and _casts_to_object_name(tokens, sig, n):
                out[i] = self._object_literal(tok)
            elif tok.name is not None and nxt is not None and nxt.text == "." and (prev is None or prev.text != "."):
                member = tokens[sig[n + 2]] if n + 2 < len(sig) else None
                target = self.schema_for(tok.name, _member_name(member))
                if target is not None:
                    out[i] = Token("ident", quote_ident(target))
            elif tok.name in self.schemas and prev is not None and prev.upper == "SCHEMA" and n >= 2 \
                    and tokens[sig[n - 2]].upper in ("ON", "CREATE"):
                out[i] = Token("ident", quote_ident(self.schemas[tok.name]))
        return out

    def _object_literal(self, tok: Token) -> Token:
        body = literal_body(tok)
        if body is None:
            return tok
        try:
            inner = tokenize(body)
        except ValueError:
            return tok
        renamed = "".join(t.text for t in self.tokens(inner))
        return tok if renamed == body else Token("string", quote_literal(renamed))


def _member_name(token: Token | None) -> str | None:
    if token is None:
        return None
    if token.kind == "op":
        return token.text
    return token.name


def _casts_to_object_name(tokens: list[Token], sig: list[int], n: int) -> bool:
    """Whether the string at sig[n] is followed by ::regclass (or ::pg_catalog.regclass and the like)."""
    rest = [tokens[i] for i in sig[n + 1:n + 5]]
    if len(rest) < 2 or rest[0].text != "::":
        return False
    if rest[1].name == "pg_catalog" and len(rest) >= 4 and rest[2].text == ".":
        return rest[3].name in OBJECT_NAME_TYPES
    return rest[1].name in OBJECT_NAME_TYPES
