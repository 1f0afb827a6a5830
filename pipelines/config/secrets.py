"""The one place secrets are resolved: `${ENV_VAR}` references, read from the environment or from the config's
owner-only env file (`<config>.env`), with errors that name the key and the variable."""

from __future__ import annotations

import os
import re
from pathlib import Path

from prodlike.pipelines.errors import ProdlikeError, redact

# redact lives in errors.py (beside the other safe-text helpers); re-exported here
__all__ = ["ENV_REF", "EnvFileError", "MissingSecretError", "env_name", "load_env_file", "redact", "resolve",
           "resolve_value", "unset", "write_env_file"]
ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


class EnvFileError(MissingSecretError):
    """An env file beside a config is unsafe or unreadable."""


def load_env_file(path: Path) -> list[str]:
    """Add `NAME=value` lines of path (beside a config: `<config>.env`) to the environment where unset; the
    names added. The file holds secrets (the demo writes its DSNs and key there), so it must be readable by its
    owner only (mode 0600): otherwise it is refused, naming the fix."""
    if not path.is_file():
        return []
    if path.stat().st_mode & 0o077:
        raise EnvFileError(f"{path}: holds secrets but is readable by others (mode "
                           f"{path.stat().st_mode & 0o777:o}); run `chmod 600 {path}`")
    added = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not ENV_NAME.match(name.strip()):
            raise EnvFileError(f"{path}:{number}: expected NAME=value")  # never echo the line: it holds secrets
        if not os.environ.get(name.strip()):
            os.environ[name.strip()] = value
            added.append(name.strip())
    return added


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    """Write NAME=value lines readable by the owner only (created 0600, never briefly wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# secrets of the config beside this file (mode 0600; never commit it)\n")
        f.writelines(f"{name}={value}\n" for name, value in values.items())
    return path
