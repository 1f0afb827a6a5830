"""`${ENV_VAR}` references and DSN redaction: secrets live in the environment, never in files or logs."""

from __future__ import annotations

import os
import re

from prodlike.pipelines.errors import ProdlikeError, redact

__all__ = ["ENV_REF", "MissingSecretError", "env_name", "redact", "resolve"]  # redact lives in errors.py
ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class MissingSecretError(ProdlikeError):
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

