"""The one error root of prodlike (`ProdlikeError`, kinds `Refused` and `Transient`) and error texts that are
safe to store and show: no row values, no secrets."""

from __future__ import annotations

import re

import psycopg

_URL_PASSWORD = re.compile(r"(postgres(?:ql)?(?:\+\w+)?://[^:/@\s]*:)([^@\s]*)(@)")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_KEY_VALUE = re.compile(r"\([^()]*\)=\([^()]*\)")
_QUOTED = re.compile(r"(\"[^\"]*\"|'[^']*')")


class ProdlikeError(Exception):
    """Root of every error prodlike raises on purpose: its message is safe to show and names the fix; the CLI
    prints it without a traceback. A run that ends on one is `failed` (exit 1) unless its kind says otherwise."""


class Refused(ProdlikeError):
    """A refusal before anything changed (preflight, policy, paused refreshes): the run is `halted`, never
    `failed`, and the CLI exits 2."""


class Transient(ProdlikeError):
    """A condition that passes by itself (a server unreachable, the refresh lock held): retried with backoff where
    the caller can wait, never a reason to pause refreshes."""


def kind(err: BaseException) -> str:
    """`refused`, `transient` or `error`: how a run that ended on err is recorded, alerted and exits."""
    if isinstance(err, Refused):
        return "refused"
    if isinstance(err, Transient):
        return "transient"
    return "error"


def redact(text: str) -> str:
    """text with every DSN password replaced by ***."""
    text = _URL_PASSWORD.sub(r"\1***\3", text)
    return _KV_PASSWORD.sub(r"\1***", text)


def recorded_error(err: BaseException) -> str:
    """An error text for the control schema: its kind and safe message (no row values, no secrets)."""
    return f"{type(err).__name__}: {safe_message(err)}"[:2000]


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
