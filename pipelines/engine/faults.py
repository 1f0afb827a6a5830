"""Named fault points of a refresh (copy batch, copy committed, index build, swap, drop) for the fault-injection
suite: no-ops unless armed, in-process by `arm()` or in a child process by PRODLIKE_FAULT=point:nth (then `kill -9`
of itself; with PRODLIKE_FAULT_ONCE=path only the first process of many to get there, the one creating path)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

ENV = "PRODLIKE_FAULT"  # e.g. "copy.batch:3": the process kills itself (SIGKILL) at the 3rd pass of copy.batch
ONCE = "PRODLIKE_FAULT_ONCE"  # a file path: the process that creates it dies; the others (a retry too) go on
POINTS = ("copy.batch", "copy.committed", "copy.post_data", "release.swap", "release.drop")
_armed: dict[str, Callable[[], None]] = {}
_passes: dict[str, int] = {}
_guard = threading.Lock()


def arm(name: str, action: Callable[[], None]) -> None:
    """Run `action` (once) at the next pass of the point `name` in this process."""
    if name not in POINTS:
        raise ValueError(f"unknown fault point {name!r}; known: {', '.join(POINTS)}")
    _armed[name] = action


def disarm() -> None:
    _armed.clear()
    _passes.clear()


def point(name: str) -> None:
    """A named point of the refresh: runs what is armed there, if anything."""
    action = _armed.pop(name, None) if _armed else None
    if action is not None:
        action()
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    where, _, nth = wanted.partition(":")
    if where != name:
        return
    with _guard:
        _passes[name] = _passes.get(name, 0) + 1
        if _passes[name] >= int(nth or 1) and _first(os.environ.get(ONCE)):
            os.kill(os.getpid(), signal.SIGKILL)


def _first(once: str | None) -> bool:
    """Whether this process is the one to die: always without a ONCE path, else only if it creates the file."""
    if not once:
        return True
    try:
        os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
