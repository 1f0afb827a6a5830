"""Who is acting, for the audit trail of the control schema (pause, resume, forced runs, rollback)."""

from __future__ import annotations

import getpass
import os
import socket


def actor() -> str:
    """Who is acting: $PRODLIKE_ACTOR, else user@host."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry (containers)
        user = str(os.getuid())
    return os.environ.get("PRODLIKE_ACTOR") or f"{user}@{socket.gethostname()}"
