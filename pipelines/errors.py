"""Error texts that are safe to store and show: no row values, no secrets."""

from __future__ import annotations

import re

import psycopg

from prodlike.pipelines.config.secrets import redact

_KEY_VALUE = re.compile(r"\([^()]*\)=\([^()]*\)")
_QUOTED = re.compile(r"(\"[^\"]*\"|'[^']*')")


def safe_message(err: BaseException) -> str:
    """The error without DETAIL lines; fragments that can hold row values are withheld."""
    if isinstance(err, psycopg.Error):
        primary = (getattr(err.diag, "message_primary", None) or str(err) or type(err).__name__).splitlines()[0]
        primary = _KEY_VALUE.sub("(<withheld>)", primary)
        if primary.startswith(("invalid input", "malformed", "invalid byte sequence")):
            primary = _QUOTED.sub("<withheld>", primary)
        state = getattr(err, "sqlstate", None)
        return redact(f"{type(err).__name__} (SQLSTATE {state}): {primary}")
    return redact(str(err))
