"""Great Expectations on the staging copy, built from production's numbers; results carry no row values."""

from __future__ import annotations

import importlib
import logging
import math
import re
import threading
from dataclasses import dataclass, replace

import pyarrow as pa
from psycopg import sql

from .distributions import HISTOGRAM, NUMBER_TYPES, StreamProfile, effective_mode, fractions, to_numbers
from .results import CheckResult, Threshold, Verdict

CHECK = "expectations"
MEAN_TOLERANCE = 1e-5  # relative: production's mean is of the text values, staging's of real/float8 values
SAMPLE_SIGMAS = 6.0  # a sampled mean may differ from production's by this many (bounded) standard errors
WIDEN = 1e-6  # relative: the outer bins reach past production's min/max by float4 rounding


@dataclass
class TableExpectations:
    """What GX checks on one staging table: production's row count and its keep numeric columns' profile."""

    table: str  # schema.table (production name)
    schema: str  # staging schema holding the copy
    name: str
    rows: int
    profile: StreamProfile
    kl: Threshold  # thresholds.distribution: the error level bounds the KL divergence
    null_fraction: Threshold
    row_count: Threshold
    sample: tuple[str, int] | None = None  # the distribution check's sample (schema.table, rows) of a large table


def sqlalchemy_url(dsn: str) -> str:
    """A libpq URL as GX needs it (psycopg2 driver)."""
    return dsn.replace("postgresql://", "postgresql+psycopg2://", 1).replace("postgres://", "postgresql+psycopg2://", 1)


def suite_for(t: TableExpectations):
    """(expectations, what each one says in production's numbers)."""
    import great_expectations.expectations as gxe

    slack = t.row_count.error or 0.0
    items = [(gxe.ExpectTableRowCountToBeBetween(min_value=int(t.rows * (1 - slack)),
                                                 max_value=int(t.rows * (1 + slack)) + (slack > 0)),
              None, "row_count", float(t.rows))]
    for name, spec in t.profile.specs.items():
        prof = t.profile.profiles[name]
        if spec.type_name not in NUMBER_TYPES or effective_mode(spec, prof) != HISTOGRAM or not prof.finite:
            continue
        if prof.finite < prof.rows - prof.nulls:  # NaN/Infinity: GX's SQL mean and histogram cannot take them
            continue
        bins = [float(v) for v in to_numbers(pa.array(spec.edges), spec)]
        bins[0], bins[-1] = min(bins[0], prof.minimum), max(bins[-1], prof.maximum)
        bins[0] -= abs(bins[0]) * WIDEN + 1e-9
        bins[-1] += abs(bins[-1]) * WIDEN + 1e-9  # GX's last bin is half-open
        items.append((gxe.ExpectColumnKLDivergenceToBeLessThan(
            column=name, partition_object={"bins": bins, "weights": fractions(prof.counts)},
            threshold=t.kl.error if t.kl.error is not None else 1.0), name, "kl_divergence", 0.0))
        tol = abs(prof.mean) * MEAN_TOLERANCE + 1e-9
        if t.sample:  # a sample's mean: within SAMPLE_SIGMAS standard errors (sigma <= half the range)
            tol += SAMPLE_SIGMAS * (prof.maximum - prof.minimum) / 2 / math.sqrt(max(t.sample[1], 1))
        items.append((gxe.ExpectColumnMeanToBeBetween(column=name, min_value=prof.mean - tol,
                                                      max_value=prof.mean + tol), name, "mean", prof.mean))
        present, slack_n = 1 - prof.null_fraction, t.null_fraction.error or 0.0
        items.append((gxe.ExpectColumnProportionOfNonNullValuesToBeBetween(
            column=name, min_value=max(0.0, present - slack_n), max_value=min(1.0, present + slack_n)),
            name, "non_null_fraction", present))
    return items


_preload: threading.Thread | None = None
_preload_lock = threading.Lock()
# Modules a refresh run's own thread imports lazily (pyarrow's pandas shim, Dagster, date parsing) that Great
# Expectations imports too (measured: sys.modules before and after a run with GX off, against GX's imports). Two
# threads importing one package at once can see it half initialized ("partially initialized module ...
# sqlalchemy.orm.exc" failed a CI run), so the calling thread imports them before the background import starts.
SHARED_IMPORTS = ("pandas", "numpy.random", "numpy.ma", "dateutil.parser", "dateutil.tz", "dateutil.relativedelta",
                  "zoneinfo", "_strptime", "tarfile", "mmap", "cmath", "sqlalchemy.orm")


def preload() -> None:
    """Start importing Great Expectations in a background thread (seconds of this process's CPU), so that it
    overlaps the checks that wait on the staging server; validate() then finds it imported. The packages the
    calling thread may import meanwhile are imported first, here. Idempotent."""
    global _preload
    with _preload_lock:
        if _preload is None:
            for name in SHARED_IMPORTS:
                try:
                    importlib.import_module(name)
                except ImportError:  # an optional one missing: GX's own import reports what it needs
                    pass
            _preload = threading.Thread(target=_import, name="gx-import", daemon=True)
            _preload.start()


def _import() -> None:
    try:
        import great_expectations  # noqa: F401
    except Exception:  # noqa: BLE001, S110 - validate() imports it again and reports the error there
        pass


def validate(url: str, tables: list[TableExpectations]) -> dict[str, list[CheckResult]]:
    """One GX context for the whole run (its import costs seconds: preload() overlaps it with the other checks);
    per table a suite on the copy (its row count; every expectation when the table had no sample) and one of the
    column expectations on the distribution check's sample of a large table; SUMMARY results."""
    if _preload is not None:
        _preload.join()

    logging.getLogger("great_expectations").setLevel(logging.ERROR)  # its warnings print aggregate numbers
    context = ephemeral_context()
    source = context.data_sources.add_postgres(name="staging", connection_string=url)
    out: dict[str, list[CheckResult]] = {}
    for t in tables:
        items = suite_for(t)
        whole, sampled = items[:1], items[1:]  # the row count on the whole copy; columns on its sample if any
        if not t.sample:
            whole, sampled = items, []
        out[t.table] = _run(source, t.table, t.schema, t.name, whole)
        if sampled:
            schema, name = t.sample[0].split(".", 1)
            note = f" (on the distribution check's sample of {t.sample[1]:,} rows)"
            out[t.table] += [replace(r, explanation=r.explanation + note)
                             for r in _run(source, f"{t.table} (sample)", schema, name, sampled)]
    return out


def ephemeral_context():
    """A GX context in memory: no temporary data-docs site (which GX otherwise creates, and logs, for every
    context), no usage statistics, no progress bars."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                               analytics_enabled=False)
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)  # no tqdm
    return context


def _run(source, table: str, schema: str, name: str, items: list) -> list[CheckResult]:
    """One suite of `items` on one staging table, SUMMARY results."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=table)
    for expectation, *_ in items:
        suite.add_expectation(expectation)
    asset = _asset(source, table, schema, name)
    batch = asset.add_batch_definition_whole_table("whole").get_batch()
    outcome = batch.validate(suite, result_format="SUMMARY")
    return [_result(table.removesuffix(" (sample)"), item, r) for item, r in zip(items, outcome.results)]


_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")


def _asset(source, asset_name: str, schema: str, name: str):
    """A GX asset reading schema.name: a table asset for plain lower-case names; for any other name (quotes,
    spaces, upper case, non-ASCII, `;`) a query asset whose SELECT quotes both with psycopg's sql module, as GX
    folds unquoted schema names to lower case and keeps a quoted schema name's quotes as part of the name."""
    if _PLAIN.match(schema) and _PLAIN.match(name):
        return source.add_table_asset(name=asset_name, table_name=name, schema_name=schema)
    query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, name)).as_string(None)
    return source.add_query_asset(name=asset_name, query=query)


def _result(table: str, item: tuple, r) -> CheckResult:
    _, column, statistic, production = item
    observed = (r.result or {}).get("observed_value")
    try:
        staging = float(observed) if observed is not None else None
    except (TypeError, ValueError):  # e.g. a partition object: not a number to show
        staging = None
    verdict = Verdict.PASS if r.success else Verdict.ERROR
    where = f"{table}.{column}" if column else table
    info = r.exception_info or {}
    if info.get("raised_exception"):  # the expectation could not be evaluated: an error of the check, not a pass
        message = str(info.get("exception_message", ""))[:200]
        return CheckResult(CHECK, table, column, statistic, production, None, None, Threshold(error=0), Verdict.ERROR,
                           f"{where}: GX {r.expectation_config.type} could not be evaluated ({message})")
    return CheckResult(CHECK, table, column, statistic, production, staging, None, Threshold(error=0), verdict,
                       f"{where}: GX {r.expectation_config.type} "
                       f"{'met' if r.success else 'NOT met'} (production {production:.6g}"
                       + (f", staging {staging:.6g})" if staging is not None else ")"))
