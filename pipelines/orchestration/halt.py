"""A halt as Dagster shows it: the deciding step fails (the run is a FAILURE, never a green success) with the
verdict as its one message and no Python stack trace, since a halt is a verdict on the data, not a crash."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.metadata import normalize_metadata
from dagster._core.errors import DagsterUserCodeProcessError
from dagster._utils.error import SerializableErrorInfo

from prodlike.pipelines.errors import Refused


class Halted(dg.Failure, DagsterUserCodeProcessError, Refused):
    """Raised by the step that halts the run, after the halt is concluded (paused, alerted, reported).

    A plain `dg.Failure` is recorded with the traceback from Dagster's step executor down to the raise, and the UI
    prints it under the message. Dagster records an error that arrives as a `DagsterUserCodeProcessError` with one
    error info exactly as that info says (its `hoist_user_code_error`), so the halt carries its own info: the verdict,
    no stack. As a `Failure` it takes Dagster's path for intentional failures (description and metadata shown,
    retries bypassed); tests/pipelines/orchestration/test_halt_in_dagster.py pins both with the installed Dagster.
    As a `Refused` it is a halt wherever prodlike's error kinds are read (never `failed`, exit 2)."""

    def __init__(self, verdict: str, metadata: dict | None = None):
        Exception.__init__(self, verdict)  # not Failure.__init__: its super() call lands in the other base
        self.description, self.allow_retries = verdict, False
        self.metadata = normalize_metadata(metadata or {})
        self.user_code_process_error_infos = [SerializableErrorInfo(verdict, [], "Halted")]
