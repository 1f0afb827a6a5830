"""A PostgreSQL lexer for DDL text: identifiers, strings, comments and operators as tokens, text kept exact."""

from __future__ import annotations

import re
from dataclasses import dataclass

from prodlike.pipelines.errors import ProdlikeError

# kinds: ws, comment, string (any quoting), dollar (dollar-quoted body), ident (quoted identifier),
# word (keyword or unquoted identifier), number, param ($1), op (operator), punct ( ) , ; [ ] .
_PATTERNS = [
    ("ws", r"\s+"),
    ("comment", r"--[^\n]*"),
    ("ccomment", r"/\*"),
    ("string", r"[eE]'(?:[^'\\]|\\.|'')*'"),
    ("string", r"(?:[bBxXnN]|[uU]&)?'(?:[^']|'')*'"),
    ("ident", r'(?:[uU]&)?"(?:[^"]|"")*"'),
    ("dollar", r"\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$"),
    ("param", r"\$\d+"),
    ("number", r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"),
    ("word", r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*"),
    ("punct", r"[(),;\[\]]|::|\.|:"),
    ("op", r"[+\-*/<>=~!@#%^&|`?]+"),
]
_LEXER = re.compile("|".join(f"(?P<{k}{i}>{p})" for i, (k, p) in enumerate(_PATTERNS)))


class LexError(ProdlikeError, ValueError):
    """The text is not lexically valid SQL (an unterminated string, comment or identifier)."""


@dataclass
class Token:
    kind: str
    text: str

    @property
    def name(self) -> str | None:
        """The identifier this token names (quoted: as written; unquoted: folded to lower case), else None."""
        if self.kind == "ident":
            if self.text[:2] in ('U&', 'u&'):
                return None
            return self.text[1:-1].replace('""', '"')
        if self.kind == "word":
            return self.text.lower()
        return None

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def _block_comment(text: str, start: int) -> int:
    """End of the (nestable) /* */ comment opened at start."""
    depth, i = 0, start
    while i < len(text):
        two = text[i:i + 2]
        if two == "/*":
            depth, i = depth + 1, i + 2
        elif two == "*/":
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    raise LexError("unterminated /* comment")


def tokenize(text: str) -> list[Token]:
    """Every token of text; concatenating their texts gives text back exactly."""
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _LEXER.match(text, pos)
        if m is None:
            if text[pos] in "'\"":
                raise LexError(f"unterminated quoted {'string' if text[pos] == chr(39) else 'identifier'}")
            out.append(Token("op", text[pos]))
            pos += 1
            continue
        kind = re.sub(r"\d+$", "", m.lastgroup)
        end = m.end()
        if kind == "ccomment":
            kind, end = "comment", _block_comment(text, pos)
        elif kind == "dollar":
            close = text.find(m.group(), end)
            if close < 0:
                raise LexError("unterminated dollar-quoted string")
            end = close + len(m.group())
        out.append(Token(kind, text[pos:end]))
        pos = end
    return out


def significant(tokens: list[Token]) -> list[Token]:
    """Tokens without whitespace and comments."""
    return [t for t in tokens if t.kind not in ("ws", "comment")]


def quote_ident(name: str) -> str:
    """name as a quoted SQL identifier (the form psycopg's sql.Identifier writes)."""
    return '"' + name.replace('"', '""') + '"'


def literal_body(token: Token) -> str | None:
    """The value of a plain '...' string literal (None for E'', dollar and other forms)."""
    if token.kind != "string" or not token.text.startswith("'"):
        return None
    return token.text[1:-1].replace("''", "'")


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
