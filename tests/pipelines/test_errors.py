"""One error root: every error class of the project derives from ProdlikeError, and its kind (Refused,
Transient) decides how a run ends, never a class name."""

from __future__ import annotations

import importlib
import inspect

import pytest

from prodlike.pipelines import errors
from prodlike.pipelines.cli.main import EXIT_ERROR, EXIT_HALTED, CliError, exit_code
from prodlike.pipelines.engine.control import RefreshLockedError, RefreshPausedError
from prodlike.pipelines.engine.preflight import PreflightError
from prodlike.pipelines.postgres.connections import UnreachableServerError, is_transient
from tests.test_structure import modules


def test_every_error_class_derives_from_the_root():
    found = {}
    for name in modules():
        if name.endswith(("__main__", "definitions")):
            continue
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name:
                found[f"{name}.{attr}"] = value
    assert len(found) >= 16
    assert [n for n, cls in found.items() if not issubclass(cls, errors.ProdlikeError)] == []


@pytest.mark.parametrize("err, kind, code", [
    (PreflightError(["public.t: unclassified column(s) x"]), "refused", EXIT_HALTED),  # a halt before any copy
    (RefreshPausedError("paused"), "refused", EXIT_HALTED),                           # refused while paused
    (UnreachableServerError("cannot connect to staging"), "transient", EXIT_ERROR),   # retried, never pauses
    (RefreshLockedError("another refresh holds the lock"), "transient", EXIT_ERROR),
    (errors.ProdlikeError("anything else"), "error", EXIT_ERROR),
    (CliError("told", 2), "error", 2),                                                # a CliError keeps its code
])
def test_the_kind_decides_the_outcome(err, kind, code):
    assert errors.kind(err) == kind and exit_code(err) == code
    assert is_transient(err) == (kind == "transient")
