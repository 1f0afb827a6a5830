"""The one place secrets are resolved: `${ENV_VAR}` references, read from the environment (never from files),
with errors that name the key and the variable."""

from __future__ import annotations

import os
import re

from prodlike.pipelines.errors import ProdlikeError, redact

# redact lives in errors.py (beside the other safe-text helpers); re-exported here
__all__ = ["ENV_REF", "MissingSecretError", "env_name", "redact", "resolve", "resolve_value", "unset"]
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



def resolve_value(value: str, key_path: str) -> str:
    """A setting that may be written literally or as a `${VAR}` reference (a webhook URL): the reference
    resolved, a literal as written."""
    return resolve(value, key_path) if env_name(value) else value


def unset(ref: str) -> str | None:
    """The variable a `${VAR}` reference names when it is not set (None: set, or not a reference)."""
    name = env_name(ref)
    return name if name and not os.environ.get(name) else None
