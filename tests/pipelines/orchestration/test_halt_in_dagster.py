"""In Dagster a halt is a check verdict, not a crash, and not a success either: the run fails at the step that
decided, with the verdict as its one message and no stack trace, the parity and release steps not run; a refresh
refused while paused is not a failed run; the table assets of an unreleased copy are not shown as freshly
materialized; the report is reachable from the UI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from prodlike.pipelines.definitions import load_definitions
from prodlike.pipelines.orchestration.assets import OUTCOME_TAG, RELEASE_KEY
from tests.conftest import ROOT
from tests.pipelines.report.test_report import SCREENSHOTS, chromium  # noqa: F401 - the session's browser


@pytest.fixture
def dagster_env(demo_env, monkeypatch):
    path, env, _ = demo_env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return path


def _run(path, instance: dg.DagsterInstance):
    job = load_definitions(path).resolve_job_def("refresh")
    return job.execute_in_process(instance=instance, raise_on_error=False)


def _messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.message or "" for e in instance.all_logs(run_id)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot_run_page(home: Path, config: Path, run_id: str, browser, shot: Path) -> str:
    """Start the Dagster webserver on the test's instance, load the run's page in Chromium once it shows the
    halt, save a screenshot; the page's text."""
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "PRODLIKE_CONFIG": str(config)}
    server = subprocess.Popen([str(Path(sys.executable).with_name("dagster-webserver")), "-m",
                               "prodlike.pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)],
                              cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while True:  # ready when it answers (a condition, not a duration)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5).read()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "dagster-webserver did not start"
                time.sleep(1)
        browser.call("Emulation.setDeviceMetricsOverride", session=True, width=browser.width, height=1600,
                     deviceScaleFactor=1, mobile=False)  # tall enough for the run's last log lines
        browser.load(f"http://127.0.0.1:{port}/runs/{run_id}", settle_text="HALTED")
        browser.evaluate("[...document.querySelectorAll('button')].filter(b => b.innerText.trim() === 'Skip')"
                         ".forEach(b => b.click())")  # the UI's first-visit community dialog
        browser.wait_for_text("RUN_FAILURE", 60)
        browser.screenshot(shot, 1600)
        return browser.evaluate("document.body.innerText")
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride", session=True)
        server.terminate()
        server.wait(timeout=60)


def test_a_halt_is_a_verdict_and_a_paused_refusal_is_not_a_failure(dagster_env, demo_dbs, tmp_path,
                                                                   chromium):  # noqa: F811
    path = dagster_env
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        released = _run(path, instance)
        assert released.success
        table = dg.AssetKey(["staging", "public", "support_tickets"])
        live = instance.get_latest_materialization_event(table)
        assert live.run_id == released.run_id
        report = instance.get_latest_materialization_event(RELEASE_KEY).asset_materialization.metadata
        assert not str(report["parity_report"].value).startswith("file:")
        assert report["open_the_report"].value == f"prodlike report {released.run_id} --open"

        with demo_dbs.src() as src:
            src.execute("DELETE FROM support_tickets WHERE id % 10 < 8")
        halted = _run(path, instance)
        events = list(instance.all_logs(halted.run_id))
        messages = _messages(instance, halted.run_id)
        # a halt is not a green success: the run failed, at the step that decided, with the verdict as its one
        # message and no stack trace (the UI prints a failure's stack under its message); no retry
        assert not halted.success and instance.get_run_by_id(halted.run_id).status == dg.DagsterRunStatus.FAILURE
        failures = [e.dagster_event.step_failure_data for e in events
                    if e.dagster_event and e.dagster_event.is_step_failure]
        assert len(failures) == 1 and failures[0].error.stack == [] and failures[0].error.cause is None
        halt = failures[0].error.message
        assert halt.startswith("HALTED: ") and "row_count_change on public.support_tickets" in halt
        assert "Staging keeps serving its last release" in halt and f"prodlike report {halted.run_id}" in halt
        shown = failures[0].user_failure_data.metadata  # beside the message in the UI
        assert shown["open_the_report"].value == f"prodlike report {halted.run_id} --open"
        run_failure = next(e.dagster_event for e in events if e.dagster_event and e.dagster_event.is_run_failure)
        assert run_failure.job_failure_data.error.stack == [] and run_failure.job_failure_data.error.message == halt
        assert not any("DagsterAssetCheckFailedError" in m or "Traceback" in m for m in messages)
        assert not [e for e in events if e.dagster_event and e.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"]
        assert not [m for m in messages if m.startswith("HALTED: ")]  # said once: in the failure, not a log line too
        not_run = [m for m in messages if m.startswith("Dependencies for step")]  # the release never runs
        assert [m.split()[3] for m in not_run] == ["staging__parity", "staging__release"]
        assert instance.get_run_by_id(halted.run_id).tags[OUTCOME_TAG] == "halted"
        failed = [e for e in halted.get_asset_check_evaluations() if not e.passed and e.severity.value == "ERROR"]
        assert [(e.check_name, e.asset_key) for e in failed] == [("row_count_change", table)]
        # staging still serves the released copy: the table's latest materialization is the release's
        assert instance.get_latest_materialization_event(table).run_id == released.run_id
        observed = instance.fetch_observations(RELEASE_KEY, limit=1).records[0].asset_observation
        assert observed.metadata["state"].value.startswith(f"not released: run {halted.run_id} halted")
        observed = instance.fetch_observations(table, limit=1).records[0].asset_observation
        assert observed.metadata["state"].value.startswith(f"not live: run {halted.run_id} halted")
        page = screenshot_run_page(home, path, halted.run_id, chromium, SCREENSHOTS / "dagster-halted-run.png")
        assert "HALTED" in page and "DagsterAssetCheckFailedError" not in page
        assert "Stack Trace" not in page and "Traceback" not in page and 'File "' not in page

        refused = _run(path, instance)  # halted runs pause refreshes
        messages = _messages(instance, refused.run_id)
        assert refused.success and instance.get_run_by_id(refused.run_id).tags[OUTCOME_TAG] == "refused: paused"
        assert not [e for e in refused.all_events if e.is_step_failure]
        assert [m for m in messages if m.startswith("REFUSED, nothing copied: refreshes are paused since")]
