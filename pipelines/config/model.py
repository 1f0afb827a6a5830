"""The prodlike.yaml model: one validated config; errors name the key path, the bad value and the fix."""

from __future__ import annotations

import fnmatch
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from prodlike.pipelines.config import cron, secrets
from prodlike.pipelines.config.fields import (  # noqa: F401 (re-exported: the config's vocabulary)
    ALERT_EVENTS,
    INLINE_SECRET,
    PAGING_EVENTS,
    Duration,
    EnvRef,
    Size,
    Strict,
    format_duration,
    human_age,
    parse_duration,
    parse_size,
)
from prodlike.pipelines.errors import ProdlikeError
from prodlike.pipelines.oncall.channels import Alerts

DEFAULT_CONFIG = "prodlike.yaml"
STATE_ROOT = ".prodlike"  # every config's state folder defaults to a subfolder named after the config file
DEMO_STATE_CONFIG = ".prodlike/demo/demo.yaml"  # written by `prodlike demo`; the CLI's last fallback


class ConfigError(ProdlikeError, ValueError):
    """The config is invalid; the message lists each bad key with what is allowed."""


def _schema_qualified(tables: dict, message: str) -> dict:
    """tables, when every key is written schema.table; else message (formatted with the name) as the error."""
    for name in tables:
        if name.count(".") != 1:
            raise ValueError(message.format(name=name))
    return tables


class Server(Strict):
    """A PostgreSQL server reached by a DSN held in an environment variable."""

    dsn: EnvRef = Field(description="libpq DSN as a `${ENV_VAR}` reference; never inline.")

    def resolve(self, key_path: str) -> str:
        return secrets.resolve(self.dsn, f"{key_path}.dsn")


class ColumnRule(Strict):
    """How one column is anonymized: a transformer name and its parameters."""

    transformer: str = Field(description="Registered transformer name, e.g. `keep`, `email`, `hash`.")
    params: dict[str, Any] = Field(default_factory=dict, description="Transformer parameters.")


def _column_rule(value: Any) -> Any:
    if isinstance(value, str):
        return {"transformer": value}
    if isinstance(value, dict) and "transformer" in value and "params" not in value:
        rest = {k: v for k, v in value.items() if k != "transformer"}
        return {"transformer": value["transformer"], "params": rest}
    return value


class TablePolicy(Strict):
    """Anonymization policy of one table: `keep` for the whole table, or one rule per column."""

    keep: bool | list[str] = Field(
        False, description="The table holds no PII; its columns are kept as is. A list names the columns it was "
        "reviewed with (what `init` writes): a column added in production later refuses the refresh until it is "
        "reviewed. `true` (or `schema.table: keep`) keeps every column, present and future, unreviewed.")
    columns: dict[str, Annotated[ColumnRule, BeforeValidator(_column_rule)]] = Field(
        default_factory=dict, description="Column name -> transformer name or `{transformer: ..., param: ...}`."
    )

    @field_validator("keep")
    @classmethod
    def _reviewed_columns(cls, keep: bool | list[str]) -> bool | list[str]:
        if isinstance(keep, list):
            if not keep:
                raise ValueError("keep: [] reviews no column; list the table's columns, e.g. keep: [id, name]")
            doubled = sorted({c for c in keep if keep.count(c) > 1})
            if doubled:
                raise ValueError(f"keep lists {', '.join(doubled)} more than once")
        return keep

    @property
    def reviewed(self) -> list[str] | None:
        """The columns a table-level keep was reviewed with (None: not a reviewed keep)."""
        return self.keep if isinstance(self.keep, list) else None


def _table_policy(value: Any) -> Any:
    if value == "keep":
        return {"keep": True}
    if value is None:
        return {}
    return value


class Anonymization(Strict):
    """The anonymization key and the per-table policy."""

    key: EnvRef | None = Field(
        None, description="Secret key of the keyed hashes, as `${ENV_VAR}` (at least 32 bytes). "
        "Rotating it changes every anonymized value."
    )
    tables: dict[str, Annotated[TablePolicy, BeforeValidator(_table_policy)]] = Field(
        default_factory=dict,
        description="`schema.table` -> `keep` or `{columns: {col: transformer}}`. Every copied table "
        "must appear here (fail closed).",
    )

    @field_validator("tables")
    @classmethod
    def _qualified(cls, tables: dict) -> dict:
        return _schema_qualified(tables, "table {name!r} must be written schema.table, e.g. public.{name}")


class Levels(Strict):
    """The warn and error levels of one check statistic, as configured (validators.results.Threshold judges
    with them)."""

    warn: float | None = Field(None, description="Divergence at which the check warns (does not block).")
    error: float | None = Field(None, description="Divergence at which the check errors (blocks release).")


class ColumnThresholds(Strict):
    """Overrides of the column statistics' thresholds for one column."""

    distribution: Levels | None = Field(None, description="Override of `thresholds.distribution`.")
    ks: Levels | None = Field(None, description="Override of `thresholds.ks`.")
    null_fraction: Levels | None = Field(None, description="Override of `thresholds.null_fraction`.")
    format: Levels | None = Field(None, description="Override of `thresholds.format`.")
    lengths: Levels | None = Field(None, description="Override of `thresholds.lengths`.")
    drift: Levels | None = Field(None, description="Override of `thresholds.drift`.")
    free_text_leaks: Levels | None = Field(None, description="Override of `thresholds.free_text_leaks`.")


class TableThresholds(ColumnThresholds):
    """Overrides for one table: any check's thresholds, and per-column ones."""

    row_count: Levels | None = Field(None, description="Override of `thresholds.row_count`.")
    row_count_change: Levels | None = Field(None, description="Override of `thresholds.row_count_change`.")
    columns: dict[str, ColumnThresholds] = Field(default_factory=dict, description="Column name -> overrides.")


class Thresholds(Strict):
    """Check thresholds, one vocabulary (`warn`, `error`) everywhere."""

    row_count: Levels = Field(
        Levels(warn=None, error=0.0),
        description="Relative row-count difference production vs staging (default: error at any difference).",
    )
    row_count_change: Levels = Field(
        Levels(warn=0.1, error=0.5),
        description="Relative change of a table's production row count since the live release (a sudden "
                    "shrink or growth: a purge, or an empty database behind a mistyped DSN).",
    )
    plans: Levels = Field(
        Levels(warn=0.0, error=0.5),
        description="Share of workload queries whose plan differs on staging (default: warn at any, error "
                    "above half; a freshly analyzed copy can flip a few plans).",
    )
    distribution: Levels = Field(
        Levels(warn=0.1, error=0.25),
        description="PSI of a column's histogram (keep numbers and dates, on production's bins), category "
                    "frequencies (keep text, enums, booleans) or lengths (other keep columns), production vs "
                    "staging (the usual convention: below 0.1 stable, above 0.25 shifted).",
    )
    ks: Levels = Field(
        Levels(warn=0.1, error=0.2),
        description="Kolmogorov-Smirnov statistic of a keep numeric/date column on production's bins.",
    )
    null_fraction: Levels = Field(
        Levels(warn=0.01, error=0.05),
        description="Absolute difference of a column's NULL fraction (every checked column, anonymized too).",
    )
    format: Levels = Field(
        Levels(warn=0.01, error=0.05),
        description="Anonymized columns: absolute difference of the share of values in production's dominant "
                    "format (email, phone, digits, hex): an email must stay an email.",
    )
    lengths: Levels = Field(
        Levels(warn=None, error=None),
        description="Anonymized columns: PSI of value lengths, reported but not judged by default (most transformers "
                    "change lengths by design); set it per column for length-preserving ones (mask, tokenize).",
    )
    drift: Levels = Field(
        Levels(warn=0.1, error=None),
        description="Release over release: PSI between production's distribution now and at the live release "
                    "(production's own drift; warns by default).",
    )
    free_text_leaks: Levels = Field(
        Levels(warn=None, error=0.0),
        description="Leak check, free-text columns (regex_redact, json, kept text beside person-name columns): "
                    "share of non-NULL rows whose staging text still holds a production name, e-mail or phone "
                    "of the same row (default: error at any row; e.g. `{warn: 0.0, error: 0.01}` tolerates 1%).",
    )
    query_time: Levels = Field(
        Levels(warn=3.0, error=None),
        description="Query time: how many times a production query's staging/production time ratio is off the "
                    "workload's median ratio, either way (hardware-independent; default warn at 3x, error off).",
    )
    query_rows: Levels = Field(
        Levels(warn=10.0, error=None),
        description="Query time: how many times a query's rows per call on staging differ from production's "
                    "((rows + 1) ratio, either way; replayed parameters are drawn from staging's data).",
    )
    query_cache: Levels = Field(
        Levels(warn=0.2, error=None),
        description="Query time: production's shared-buffer hit ratio of a query minus staging's (after warm-up); "
                    "positive when staging reads more from disk.",
    )
    tables: dict[str, TableThresholds] = Field(
        default_factory=dict,
        description="Per-table overrides: `schema.table` -> `{check: {warn, error}, columns: {col: {check: "
                    "{warn, error}}}}`; a level left out keeps the default.",
    )

    @field_validator("tables")
    @classmethod
    def _qualified_tables(cls, tables: dict) -> dict:
        return _schema_qualified(tables, "thresholds.tables.{name}: write the table as schema.table, "
                                         "e.g. public.{name}")

    def resolve(self, check: str, table: str | None = None, column: str | None = None) -> Levels:
        """The threshold of `check` for a table (and column): the default, overlaid by the table's override,
        overlaid by the column's; only the levels an override sets replace the ones below."""
        found = getattr(self, check)
        layers = []
        if table and table in self.tables:
            layers.append(getattr(self.tables[table], check, None))
            if column and column in self.tables[table].columns:
                layers.append(getattr(self.tables[table].columns[column], check, None))
        for layer in layers:
            if layer is not None:
                found = found.model_copy(update={k: getattr(layer, k) for k in layer.model_fields_set})
        return found


class Schedule(Strict):
    """When scheduled refreshes run."""

    cron: str = Field(description="Cron expression, e.g. `0 * * * *` (hourly).")
    timezone: str = Field("UTC", description="IANA timezone of the cron expression.")
    enabled: bool = Field(True, description="Schedule starts running when Dagster loads (false: start it in "
                                            "the UI).")

    @field_validator("cron")
    @classmethod
    def _cron(cls, expression: str) -> str:
        cron.parse(expression)  # CronError names the field; its message becomes the key's
        return expression

    @field_validator("timezone")
    @classmethod
    def _tz(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {tz!r}; use an IANA name such as UTC or Europe/Berlin") from None
        return tz


class Freshness(Strict):
    """How old staging may get: age = now - production snapshot time of the live release."""

    warn_after: Duration = Field(description="Age at which `freshness.warn` is sent and `status` says WARNING.")
    error_after: Duration = Field(description="Age at which `freshness.breached` is sent and `status` says "
                                              "CRITICAL.")

    @model_validator(mode="after")
    def _ordered(self) -> Freshness:
        if self.warn_after > self.error_after:
            raise ValueError(f"warn_after ({format_duration(self.warn_after)}) must not exceed error_after "
                             f"({format_duration(self.error_after)})")
        return self


class Copy(Strict):
    """How the copy engine runs."""

    workers: int = Field(4, ge=1, le=64, description="Tables copied in parallel.")
    batch_bytes: Size = Field(8 * 1024**2, ge=64 * 1024,
                              description="Bytes per batch on the transform path (bounds memory).")
    lock_timeout: Duration = Field(timedelta(seconds=5), description="How long a statement waits for a lock: "
                                   "production's per table; staging's for every statement staging users can block "
                                   "(swap, dropping old releases and stale shadows).")
    retries: int = Field(3, ge=0, le=20, description="Retries of a table copy after a transient error.")
    restore_statistics: bool | None = Field(
        None, description="Restore production's planner statistics (relation sizes; column statistics of `keep` "
        "columns only, never of anonymized ones) into the copy, so plans do not flap on a fresh sample; none: "
        "on where staging is PostgreSQL 18+.")
    transform_processes: int | None = Field(
        None, ge=0, le=64, description="Worker processes of the transform and profiling stages; none: one "
        "per core; 0: transform and profile inside the copy threads.")
    executor: Literal["in_process", "multiprocess"] = Field(
        "in_process", description="in_process: one Dagster step copies every table (threads and worker processes "
        "inside it; the fastest on one machine). multiprocess: every table, and every slice of a big table, is a "
        "Dagster step of its own importing one production snapshot (see README, Running on a cluster).")
    slice_bytes: Size = Field(1024**3, ge=64 * 1024, description="With executor multiprocess: a table larger than "
                              "this is copied as slices (ctid block ranges) of about this size, in parallel steps.")


class QueryTime(Strict):
    """The query-time check: production's top queries from pg_stat_statements replayed on the staging copy."""

    enabled: bool = Field(True, description="Run the check (skipped, saying why, when production has no "
                                            "pg_stat_statements).")
    top: int = Field(20, ge=1, le=200, description="Production queries replayed: the top ones by execution time "
                                                   "since the previous refresh.")
    min_calls: int = Field(2, ge=1, description="Queries called fewer times than this in the window are left out.")
    runs: int = Field(5, ge=1, le=50, description="Measured runs per query on staging (their median time counts).")
    warmup: int = Field(1, ge=0, le=10, description="Unmeasured passes over the measured runs' parameters "
                        "first, so the measured runs find staging's cache warm as a steady production does.")
    statement_timeout: Duration = Field(timedelta(seconds=5), description="`statement_timeout` of each replayed "
                                        "run; a query that reaches it is reported at least as a warning.")
    budget: float = Field(0.05, gt=0, le=1, description="Wall time for all replays, as a share of the run's time "
                          "before them (copy, indexes, table checks), so the check stays inside the validation budget; "
                          "each query gets an equal part (a slow one runs fewer times, at least once); a query "
                          "expected to overrun what is left is reported skipped.")
    min_budget: Duration = Field(timedelta(seconds=1), description="The replays' wall time on a run shorter than "
                                 "`min_budget / budget` (a small copy still times a few queries).")
    max_budget: Duration = Field(timedelta(seconds=120), description="At most this wall time for all replays.")
    production_plans: bool = Field(True, description="EXPLAIN (GENERIC_PLAN, no ANALYZE: planning only, never "
                                   "executed) the outlier queries on production for the report's side-by-side plans.")
    statements: int = Field(500, ge=10, le=5000, description="pg_stat_statements entries kept per refresh in "
                            "staging's control schema (by total time), for the next refresh's delta.")


class Config(Strict):
    """prodlike.yaml: what to refresh, from where, to where, and how to judge it."""

    version: Literal[1] = Field(1, description="Config format version.")
    source: Server = Field(description="Production (read-only to prodlike).")
    target: Server = Field(description="Staging (prodlike writes shadow, live and control schemas).")
    schemas: list[str] = Field(["public"], min_length=1, description="Production schemas to refresh.")
    exclude: list[str] = Field(default_factory=list, description="`schema.table` globs not copied at all.")
    schema_only: list[str] = Field(
        default_factory=list, description="`schema.table` globs whose structure is copied but no rows."
    )
    anonymization: Anonymization = Field(Anonymization(), description="Key and per-table policy.")
    thresholds: Thresholds = Field(Thresholds(), description="Check thresholds.")
    schedule: Schedule | None = Field(None, description="Cron schedule of the refresh job (none: manual).")
    freshness: Freshness | None = Field(None, description="Data-freshness SLA of staging (none: no SLA).")
    alerts: Alerts = Field(Alerts(), description="Alert channels (the local alert log is always written).")
    webserver_base_url: str | None = Field(
        None, description="Dagster webserver URL, for run links in alerts (e.g. http://dagster.internal:3000).")
    keep_previous: bool = Field(True, description="Keep the previous release for `prodlike rollback`.")
    post_load_sql: list[str] = Field(
        default_factory=list, description="SQL run on the shadow schema (as search_path) before validation."
    )
    copy_: Copy = Field(Copy(), alias="copy", description="Copy engine settings.")
    state_dir: str | None = Field(
        None, description="Local state folder (Dagster home, logs, reports, alert log); none: "
        "`.prodlike/<config file name without .yaml>` beside the config file, so every config has its own "
        "Dagster instance and reports.")
    workload: str | None = Field(None, description="SQL file of representative queries for plan checks.")
    query_time: QueryTime = Field(QueryTime(), description="Query-time parity against production's "
                                  "pg_stat_statements (thresholds.query_time, query_rows, query_cache).")
    distribution_sample_rows: int = Field(
        1_000_000, ge=0, description="The distribution check scans every staging row of a table up to this many "
        "rows and a Bernoulli sample of about this many beyond (`TABLESAMPLE BERNOULLI ... REPEATABLE`, the same "
        "sample on a rerun); production's side is always exact, from the copy stream. Its statistics are shares, "
        "which a million rows measure to about 0.001, far inside the thresholds; 0: always every row.")
    great_expectations: bool = Field(
        True, description="Also run Great Expectations on the staging copy (check `expectations`, once per run over "
        "all tables): row counts, and per keep numeric column KL divergence, mean and null fraction against "
        "production's numbers from the copy stream; a table larger than `distribution_sample_rows` has its column "
        "expectations checked on the distribution check's sample (its row count on the whole copy). Its import "
        "costs seconds.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    _file: Path | None = PrivateAttr(None)  # the file it was loaded from (names the default state folder)

    @field_validator("schemas")
    @classmethod
    def _schemas(cls, schemas: list[str]) -> list[str]:
        for s in schemas:
            if s.startswith("_prodlike") or s in ("prodlike", "pg_catalog", "information_schema"):
                raise ValueError(f"schema {s!r} is reserved and cannot be refreshed")
        return schemas

    @model_validator(mode="after")
    def _tables_in_schemas(self) -> Config:
        for name in self.anonymization.tables:
            schema = name.split(".", 1)[0]
            if schema not in self.schemas:
                raise ValueError(
                    f"anonymization.tables.{name}: schema {schema!r} is not in schemas {self.schemas}; "
                    f"add it to schemas or remove the table"
                )
        return self

    @model_validator(mode="after")
    def _schedule_meets_sla(self) -> Config:
        if self.schedule and self.freshness:
            gap = schedule_gap(self.schedule.cron, self.schedule.timezone)
            if gap >= self.freshness.error_after:
                raise ValueError(
                    f"schedule.cron {self.schedule.cron!r} leaves up to {format_duration(gap)} between refreshes, "
                    f"so staging would breach freshness.error_after ({format_duration(self.freshness.error_after)}"
                    f") before every run; schedule refreshes more often or raise error_after")
        return self

    def is_excluded(self, qualified: str) -> bool:
        return any(fnmatch.fnmatchcase(qualified, g) for g in self.exclude)

    def is_schema_only(self, qualified: str) -> bool:
        return any(fnmatch.fnmatchcase(qualified, g) for g in self.schema_only)

    def state_path(self, base: Path | None = None) -> Path:
        """The state folder: state_dir, or `.prodlike/<config file stem>`, relative to base (the config's folder)."""
        p = Path(os.path.expandvars(self.state_dir or default_state_dir(self._file))).expanduser()
        return p if p.is_absolute() else (base or Path.cwd()) / p


def schedule_gap(cron_expression: str, timezone: str) -> timedelta:
    """The longest wall-clock time between two consecutive firings of a cron schedule (over about a year of them,
    in its timezone)."""
    return cron.longest_gap(cron_expression)


def _echoable(error: dict) -> bool:
    """Whether an error may show the value it refused: a short scalar that is not a secret (never a whole
    section, never an inline DSN or key)."""
    value = error.get("input")
    return (error["type"] not in ("missing", INLINE_SECRET) and isinstance(value, (str, int, float, bool))
            and len(str(value)) <= 200)


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid config ({err.error_count()} problem{'s' * (err.error_count() > 1)}):"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key; check its spelling against the config reference in README.md"
        elif e["type"] == "missing":
            msg = "required key is missing"
        got = "" if not _echoable(e) or "got " in msg else f" (got {e['input']!r})"
        lines.append(f"  - {path}: {msg}{got}")
    return "\n".join(lines)


def load_text(text: str, source: str = "<config>") -> Config:
    """Parse and validate YAML text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level (see prodlike.example.yaml)")
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, source)) from None


def default_state_dir(config_file: Path | None) -> str:
    """`.prodlike/<config file stem>`: one state folder (and Dagster instance) per config."""
    return str(Path(STATE_ROOT) / (config_file.stem if config_file else Path(DEFAULT_CONFIG).stem))


def config_path(path: str | Path | None = None) -> Path:
    """The config file to use, in the README's order: the argument, else $PRODLIKE_CONFIG, else ./prodlike.yaml,
    else the config `prodlike demo` wrote (./.prodlike/demo/demo.yaml) when it exists."""
    if path or os.environ.get("PRODLIKE_CONFIG"):
        return Path(path or os.environ["PRODLIKE_CONFIG"])
    demo = Path(DEMO_STATE_CONFIG)
    return demo if not Path(DEFAULT_CONFIG).exists() and demo.exists() else Path(DEFAULT_CONFIG)


_PARSED: dict[str, tuple[str, Config]] = {}  # resolved path -> (its text, its Config)


def load(path: str | Path | None = None) -> Config:
    """Load and validate the config file: parsed once per process while its text is unchanged, so the CLI, the
    Dagster definitions and every step of a run share one frozen Config; variables from its env file
    (`<config>.env`, see secrets) are added to the environment where unset."""
    p = config_path(path)
    if not p.exists():
        raise ConfigError(
            f"{p}: config file not found; pass -c FILE, set PRODLIKE_CONFIG, write one with `prodlike init` "
            "(or copy prodlike.example.yaml), or run `make demo` to use the demo's"
        )
    secrets.load_env_file(p.with_suffix(".env"))
    text, key = p.read_text(), str(p.resolve())
    parsed = _PARSED.get(key)
    if parsed is None or parsed[0] != text:
        cfg = load_text(text, str(p))
        cfg._file = p
        parsed = _PARSED[key] = (text, cfg)
    return parsed[1]
