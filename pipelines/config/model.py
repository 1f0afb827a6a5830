"""The prodlike.yaml model: one validated config; errors name the key path, the bad value and the fix."""

from __future__ import annotations

import fnmatch
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from prodlike.pipelines.config import secrets

DEFAULT_CONFIG = "prodlike.yaml"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_BYTES = {"b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "gb": 1000**3}


class ConfigError(ValueError):
    """The config is invalid; the message lists each bad key with what is allowed."""


def parse_duration(value: Any) -> timedelta:
    """'30m', '2h', '1d', '5s', '250ms' or a number of seconds, as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"expected a duration such as 5s, 30m, 2h or 1d, got {value!r}")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def parse_size(value: Any) -> int:
    """'16MiB', '512KiB' or a number of bytes, as an int."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"expected a size such as 16MiB or 1048576, got {value!r}")
    return int(float(m.group(1)) * _BYTES[(m.group(2) or "b").lower()])


def format_duration(value: timedelta) -> str:
    """A timedelta as the config writes it: 90 -> '90s', 7200 -> '2h'."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m", "s"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{int(seconds * 1000)}ms"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]
Size = Annotated[int, BeforeValidator(parse_size)]


def _schema_qualified(tables: dict, message: str) -> dict:
    """tables, when every key is written schema.table; else message (formatted with the name) as the error."""
    for name in tables:
        if name.count(".") != 1:
            raise ValueError(message.format(name=name))
    return tables


def _env_ref(value: Any) -> str:
    if not isinstance(value, str) or secrets.env_name(value) is None:
        raise ValueError(
            "secrets are read from the environment only: write a ${ENV_VAR} reference "
            "such as ${PRODLIKE_SOURCE_DSN} and export the variable"
        )
    return value


EnvRef = Annotated[str, BeforeValidator(_env_ref)]


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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

    keep: bool = Field(False, description="True: the table holds no PII; every column is kept as is.")
    columns: dict[str, Annotated[ColumnRule, BeforeValidator(_column_rule)]] = Field(
        default_factory=dict, description="Column name -> transformer name or `{transformer: ..., param: ...}`."
    )


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


class Threshold(Strict):
    """A warn and an error level of one check statistic."""

    warn: float | None = Field(None, description="Divergence at which the check warns (does not block).")
    error: float | None = Field(None, description="Divergence at which the check errors (blocks release).")


class ColumnThresholds(Strict):
    """Overrides of the column statistics' thresholds for one column."""

    distribution: Threshold | None = Field(None, description="Override of `thresholds.distribution`.")
    ks: Threshold | None = Field(None, description="Override of `thresholds.ks`.")
    null_fraction: Threshold | None = Field(None, description="Override of `thresholds.null_fraction`.")
    format: Threshold | None = Field(None, description="Override of `thresholds.format`.")
    lengths: Threshold | None = Field(None, description="Override of `thresholds.lengths`.")
    drift: Threshold | None = Field(None, description="Override of `thresholds.drift`.")


class TableThresholds(ColumnThresholds):
    """Overrides for one table: any check's thresholds, and per-column ones."""

    row_count: Threshold | None = Field(None, description="Override of `thresholds.row_count`.")
    row_count_change: Threshold | None = Field(None, description="Override of `thresholds.row_count_change`.")
    columns: dict[str, ColumnThresholds] = Field(default_factory=dict, description="Column name -> overrides.")


class Thresholds(Strict):
    """Check thresholds, one vocabulary (`warn`, `error`) everywhere."""

    row_count: Threshold = Field(
        Threshold(warn=None, error=0.0),
        description="Relative row-count difference production vs staging (default: error at any difference).",
    )
    row_count_change: Threshold = Field(
        Threshold(warn=0.1, error=0.5),
        description="Relative change of a table's production row count since the live release (a sudden "
                    "shrink or growth: a purge, or an empty database behind a mistyped DSN).",
    )
    plans: Threshold = Field(
        Threshold(warn=0.0, error=0.5),
        description="Share of workload queries whose plan differs on staging (default: warn at any, error "
                    "above half; a freshly analyzed copy can flip a few plans).",
    )
    distribution: Threshold = Field(
        Threshold(warn=0.1, error=0.25),
        description="PSI of a column's histogram (keep numbers and dates, on production's bins), category "
                    "frequencies (keep text, enums, booleans) or lengths (other keep columns), production vs "
                    "staging (the usual convention: below 0.1 stable, above 0.25 shifted).",
    )
    ks: Threshold = Field(
        Threshold(warn=0.1, error=0.2),
        description="Kolmogorov-Smirnov statistic of a keep numeric/date column on production's bins.",
    )
    null_fraction: Threshold = Field(
        Threshold(warn=0.01, error=0.05),
        description="Absolute difference of a column's NULL fraction (every checked column, anonymized too).",
    )
    format: Threshold = Field(
        Threshold(warn=0.01, error=0.05),
        description="Anonymized columns: absolute difference of the share of values in production's dominant "
                    "format (email, phone, digits, hex): an email must stay an email.",
    )
    lengths: Threshold = Field(
        Threshold(warn=None, error=None),
        description="Anonymized columns: PSI of value lengths, reported but not judged by default (most transformers "
                    "change lengths by design); set it per column for length-preserving ones (mask, tokenize).",
    )
    drift: Threshold = Field(
        Threshold(warn=0.1, error=None),
        description="Release over release: PSI between production's distribution now and at the live release "
                    "(production's own drift; warns by default).",
    )
    query_time: Threshold = Field(
        Threshold(warn=3.0, error=None),
        description="Query time: how many times a production query's staging/production time ratio is off the "
                    "workload's median ratio, either way (hardware-independent; default warn at 3x, error off).",
    )
    query_rows: Threshold = Field(
        Threshold(warn=10.0, error=None),
        description="Query time: how many times a query's rows per call on staging differ from production's "
                    "((rows + 1) ratio, either way; replayed parameters are drawn from staging's data).",
    )
    query_cache: Threshold = Field(
        Threshold(warn=0.2, error=None),
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

    def resolve(self, check: str, table: str | None = None, column: str | None = None) -> Threshold:
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
    def _cron(cls, cron: str) -> str:
        if len(cron.split()) != 5:
            raise ValueError(f"expected 5 cron fields (minute hour day month weekday), got {cron!r}")
        return cron

    @field_validator("timezone")
    @classmethod
    def _tz(cls, tz: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


ALERT_EVENTS = ("refresh.halted", "refresh.warned", "refresh.failed", "refresh.released", "refresh.resumed",
                "refresh.rolled_back", "freshness.warn", "freshness.breached", "freshness.recovered")
PAGING_EVENTS = ("refresh.halted", "refresh.failed", "freshness.breached")


def _events(events: list[str]) -> list[str]:
    for e in events:
        if e not in ALERT_EVENTS:
            raise ValueError(f"unknown event {e!r}; known events: {', '.join(ALERT_EVENTS)}")
    return events


Events = Annotated[list[str], BeforeValidator(_events)]


class SlackChannel(Strict):
    """A Slack incoming webhook."""

    url: EnvRef = Field(description="Incoming-webhook URL as a `${ENV_VAR}` reference (the URL is a secret).")
    events: Events = Field(list(ALERT_EVENTS), description="Events sent to this channel (default: all).")


class PagerDutyChannel(Strict):
    """PagerDuty Events API v2: triggers on a page-worthy event, resolves on recovery, one dedup key."""

    routing_key: EnvRef = Field(description="Integration (routing) key as a `${ENV_VAR}` reference.")
    url: str = Field("https://events.pagerduty.com/v2/enqueue", description="Events API v2 endpoint.")
    events: Events = Field(list(PAGING_EVENTS), description="Events that trigger a page; recovery events "
                                                             "resolve it (default: halted, failed, breached).")


class WebhookChannel(Strict):
    """A generic JSON webhook, signed with HMAC-SHA256 (see README: Alerts)."""

    url: str = Field(description="Endpoint URL, literal or a `${ENV_VAR}` reference.")
    secret: EnvRef | None = Field(None, description="HMAC-SHA256 signing secret as a `${ENV_VAR}` reference; "
                                                     "sets `X-Prodlike-Signature`.")
    events: Events = Field(list(ALERT_EVENTS), description="Events sent to this channel (default: all).")


class Alerts(Strict):
    """Where alerts go; a local JSON-lines alert log under the state folder is always written."""

    slack: list[SlackChannel] = Field(default_factory=list, description="Slack incoming webhooks.")
    pagerduty: list[PagerDutyChannel] = Field(default_factory=list, description="PagerDuty services.")
    webhook: list[WebhookChannel] = Field(default_factory=list, description="Generic JSON webhooks.")
    timeout: Duration = Field(timedelta(seconds=10), description="Timeout of one delivery attempt.")
    retries: int = Field(3, ge=0, le=10, description="Retries of a failed delivery (with backoff).")
    backoff: Duration = Field(timedelta(seconds=1), description="First retry delay; doubles each retry.")


class Copy(Strict):
    """How the copy engine runs."""

    workers: int = Field(4, ge=1, le=64, description="Tables copied in parallel.")
    batch_bytes: Size = Field(8 * 1024**2, ge=64 * 1024,
                              description="Bytes per batch on the transform path (bounds memory).")
    lock_timeout: Duration = Field(timedelta(seconds=5), description="Production `lock_timeout` per table.")
    retries: int = Field(3, ge=0, le=20, description="Retries of a table copy after a transient error.")
    restore_statistics: bool | None = Field(
        None, description="Restore production's planner statistics (relation sizes; column statistics of `keep` "
        "columns only, never of anonymized ones) into the copy, so plans do not flap on a fresh sample; none: "
        "on where staging is PostgreSQL 18+.")
    transform_processes: int | None = Field(
        None, ge=0, le=64, description="Worker processes of the transform and profiling stages; none: one "
        "per core; 0: transform and profile inside the copy threads.")


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
    state_dir: str = Field(".prodlike", description="Local state folder (Dagster home, logs, reports).")
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
        p = Path(os.path.expandvars(self.state_dir)).expanduser()
        return p if p.is_absolute() else (base or Path.cwd()) / p


def schedule_gap(cron: str, timezone: str) -> timedelta:
    """The longest time between two consecutive firings of a cron schedule (over about a year of them)."""
    from dagster._utils.schedules import cron_string_iterator

    times = cron_string_iterator(1767225600.0, cron, timezone)  # from 2026-01-01, DST changes included
    previous, longest = next(times), timedelta(0)
    for _, t in zip(range(1000), times):
        longest, previous = max(longest, t - previous), t
        if t.timestamp() > 1767225600.0 + 400 * 86400:
            break
    return longest


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid config ({err.error_count()} problem{'s' * (err.error_count() > 1)}):"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key; check its spelling against the config reference in README.md"
        elif e["type"] == "missing":
            msg = "required key is missing"
        got = "" if e["type"] in ("missing",) or "got " in msg else f" (got {e['input']!r})"
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


def config_path(path: str | Path | None = None) -> Path:
    """The config file to use: the argument, else $PRODLIKE_CONFIG, else ./prodlike.yaml."""
    return Path(path or os.environ.get("PRODLIKE_CONFIG") or DEFAULT_CONFIG)


def load(path: str | Path | None = None) -> Config:
    """Load and validate the config file."""
    p = config_path(path)
    if not p.exists():
        raise ConfigError(
            f"{p}: config file not found; pass -c FILE, set PRODLIKE_CONFIG, or copy prodlike.example.yaml"
        )
    return load_text(p.read_text(), str(p))
