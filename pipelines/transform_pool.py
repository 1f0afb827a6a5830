"""The transform stage in worker processes: batches go out in order and come back in order, at most
`depth` in flight per table, so the GIL-bound stage uses every core and memory stays bounded.
Batches travel through pipes in memory; nothing is written to disk."""

from __future__ import annotations

import dataclasses
import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor

from prodlike.anonymizers.base import ColumnInfo
from prodlike.anonymizers.policy import TablePlan
from prodlike.anonymizers.registry import get

_PLANS: dict[str, tuple[TablePlan, dict[str, int]]] = {}


def plan_spec(plan: TablePlan) -> list[tuple[str, str, dict, dict]]:
    """What a worker needs to rebuild plan: (column, transformer, params, column info) per column."""
    return [(col, t.name, t.params.model_dump(), dataclasses.asdict(t.column)) for col, t in plan.transformers.items()]


def _init(key: bytes, specs: dict[str, tuple[list, list[str]]]) -> None:
    for table, (spec, columns) in specs.items():
        transformers = {col: get(name)(params, key, ColumnInfo(**info)) for col, name, params, info in spec}
        _PLANS[table] = (TablePlan(table, transformers), {c: i for i, c in enumerate(columns)})


def _work(table: str, data: bytes) -> tuple[bytes, float, dict[str, int]]:
    from .copy_engine import transform_rows

    t0 = time.process_time()
    plan, index = _PLANS[table]
    same: dict[str, int] = {}  # rows whose output equals their own input, per column (leak check)
    return transform_rows(data.split(b"\n")[:-1], plan, index, same), time.process_time() - t0, same


class TransformPool:
    """A process pool that knows every table's plan (rebuilt once per worker from its spec)."""

    def __init__(self, processes: int, key: bytes, plans: dict[str, tuple[TablePlan, list[str]]],
                 depth: int | None = None):
        specs = {table: (plan_spec(plan), columns) for table, (plan, columns) in plans.items()}
        self.depth = depth or processes  # one batch per worker in flight: every worker busy while the next is read
        self.executor = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("forkserver"),
                                            initializer=_init, initargs=(key, specs))

    def submit(self, table: str, data: bytes) -> Future:
        return self.executor.submit(_work, table, data)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
