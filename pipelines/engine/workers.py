"""The transform and profiling stages in worker processes: batches go out in order and come back in order, at
most `depth` in flight per table, so the GIL-bound stages use every core and memory stays bounded.
Batches travel through pipes in memory; nothing is written to disk."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

from prodlike.anonymizers.policy import TablePlan
from prodlike.pipelines.engine.batch import transform_batch
from prodlike.validators import copytext

# Imported once by the forkserver every worker forks from, not by each worker (about a second each); pandas because
# pyarrow imports it on its first array built from Python objects.
PRELOAD = ["__main__", "prodlike.pipelines.engine.workers", "prodlike.pipelines.engine.batch",
           "prodlike.validators.distributions", "prodlike.anonymizers.transformers", "pandas"]
PR_SET_PDEATHSIG = 1  # prctl option: the signal this process gets when its parent dies
PARENT_POLL_S = 0.5
_PLANS: dict[str, tuple[TablePlan, list[str]]] = {}
_PROFILES: dict[str, tuple[list[str], dict]] = {}  # leaf -> (columns, column -> ColumnSpec)


@dataclass
class BatchResult:
    """What a worker sends back for one batch: the transformed rows (None when only profiled), CPU seconds per
    stage, rows equal to their own input per column (leak check), and production's partial profile."""

    data: bytes | None = None
    transform_s: float = 0.0
    same: dict[str, int] = field(default_factory=dict)
    profile_rows: int = 0
    profiles: dict = field(default_factory=dict)  # column -> validators.distributions.ColumnProfile
    profile_failed: str | None = None
    profile_s: float = 0.0
    hashed: dict = field(default_factory=dict)  # identifier column -> (production's keyed hashes, non-NULL count)


def plan_spec(plan: TablePlan) -> list[tuple[str, str, dict, dict, bool]]:
    """What a worker needs to rebuild plan (TablePlan.spec)."""
    return plan.spec()


def profile_spec(specs: dict) -> list[tuple[str, str, str, str, list | None]]:
    """What a worker needs to rebuild a table's ColumnSpecs (their lock does not travel)."""
    return [(s.name, s.type_name, s.type_category, s.transformer, s.edges) for s in specs.values()]


def _process_start(pid: int) -> str | None:
    """A process's start time (field 22 of /proc/PID/stat): tells a live parent from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _die_with(parent: int, started: str | None) -> None:
    """End this worker when the refresh process ends, even by kill -9: the kernel kills it when the forkserver it
    was forked from dies (PR_SET_PDEATHSIG), and a watcher thread exits once the refresh process is gone (the
    forkserver itself may outlive it for a moment). A worker holds the anonymization key: no orphans."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the watcher alone
        pass

    def watch() -> None:
        while _process_start(parent) == started:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="prodlike-parent-watch", daemon=True).start()


def _init(key: bytes, specs: dict[str, tuple[list, list[str]]], profiles: dict[str, tuple[list[str], list]],
          parent: int | None = None, started: str | None = None) -> None:
    from prodlike.validators.distributions import ColumnSpec

    if parent is not None:
        _die_with(parent, started)

    for table, (spec, columns) in specs.items():
        _PLANS[table] = (TablePlan.rebuild(table, spec, key), columns)
    for table, (columns, spec) in profiles.items():
        _PROFILES[table] = (columns, {name: ColumnSpec(name, type_name, category, transformer, edges)
                                      for name, type_name, category, transformer, edges in spec})


def _profile(table: str, edges: dict[str, list[str]], result: BatchResult, add) -> None:
    """Production's statistics of one batch (`add(profile)` feeds it); a failure is reported by its error class
    only (never a value)."""
    from prodlike.validators.distributions import StreamProfile

    t0 = time.process_time()
    columns, specs = _PROFILES[table]
    for name, bounds in edges.items():  # decided by the parent (production's pg_stats or its first batch)
        specs[name].edges = bounds
    profile = StreamProfile(columns, specs, threads=False)
    try:
        add(profile)
    except Exception as err:  # profiling must never fail the copy; the check reports it as skipped
        result.profile_failed = type(err).__name__
    result.profile_rows, result.profiles = profile.rows, profile.profiles
    result.profile_s += time.process_time() - t0


def _work(table: str, data: bytes, transform: bool, profile: bool, edges: dict[str, list[str]],
          hashes: bool) -> BatchResult:
    """One batch: transformed and/or profiled; a transformed batch is profiled from the transform's own parse."""
    result = BatchResult()
    if not transform:
        if profile:
            _profile(table, edges, result, lambda p: p.add(data))
        return result

    def tap(rows: int, raw: dict) -> None:
        texts = {name: copytext.as_text(raw[name]) for name in _PROFILES[table][1]}
        _profile(table, edges, result, lambda p: p.add_columns(rows, texts))

    t0 = time.process_time()
    plan, columns = _PLANS[table]
    result.data = transform_batch(data, plan, columns, result.same, result.hashed if hashes else None,
                                  tap if profile else None)
    result.transform_s = time.process_time() - t0 - result.profile_s
    return result


def start_server() -> None:
    """Start the forkserver the workers fork from, so its imports overlap the snapshot and catalog reads; a later
    call, or a TransformPool, finds it running."""
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()


def _warm() -> None:
    """A no-op job: it makes the pool start its workers (and run their initializer) before the first batch."""


class TransformPool:
    """A process pool that knows every table's plan and profile specs (rebuilt once per worker)."""

    def __init__(self, processes: int, key: bytes | None, plans: dict[str, tuple[TablePlan, list[str]]],
                 profiles: dict[str, tuple[list[str], dict]] | None = None, depth: int | None = None):
        specs = {table: (plan_spec(plan), columns) for table, (plan, columns) in plans.items()}
        shipped = {table: (columns, profile_spec(s)) for table, (columns, s) in (profiles or {}).items()}
        self.profiled = set(shipped)
        self.depth = depth or processes  # one batch per worker in flight: every worker busy while the next is read
        start_server()
        self.executor = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("forkserver"),
                                            initializer=_init,
                                            initargs=(key, specs, shipped, os.getpid(), _process_start(os.getpid())))
        for _ in range(processes):
            self.executor.submit(_warm)

    def submit(self, table: str, data: bytes, *, transform: bool = True, profile: bool = False,
               edges: dict[str, list[str]] | None = None, hashes: bool = True) -> Future:
        """One batch of whole COPY text rows (ending with production's identifier hashes when `hashes`):
        transformed and/or profiled; a future of its BatchResult."""
        return self.executor.submit(_work, table, data, transform, profile, edges or {}, hashes)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
