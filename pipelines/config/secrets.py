"""`${ENV_VAR}` references and DSN redaction: secrets live in the environment, never in files or logs."""

from __future__ import annotations

import os
import re

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?(?:\+\w+)?://[^:/@\s]*:)([^@\s]*)(@)")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


class MissingSecretError(RuntimeError):
    """A `${VAR}` reference names an environment variable that is not set."""


def env_name(ref: str) -> str | None:
    """The variable name of a `${VAR}` reference, or None when ref is not one."""
    m = ENV_REF.match(ref.strip()) if isinstance(ref, str) else None
    return m.group(1) if m else None


def resolve(ref: str, key_path: str) -> str:
    """The value behind a `${VAR}` reference; a clear error naming the key when unset."""
    name = env_name(ref)
    if name is None:
        raise MissingSecretError(f"{key_path}: expected a ${{ENV_VAR}} reference, got an inline value")
    value = os.environ.get(name)
    if not value:
        raise MissingSecretError(
            f"{key_path}: environment variable {name} is not set (the config reads it as ${{{name}}}); "
            f"export {name}=... before running"
        )
    return value


def redact(text: str) -> str:
    """text with every DSN password replaced by ***."""
    text = _URL_PASSWORD.sub(r"\1***\3", text)
    return _KV_PASSWORD.sub(r"\1***", text)
