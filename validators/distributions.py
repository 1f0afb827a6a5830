"""Value distributions, anonymization-aware: production's side from the copy stream, staging's from one scan."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from prodlike.anonymizers import registry
from prodlike.anonymizers.policy import INTEGER_TYPES

from . import copytext
from .results import CheckResult, Threshold, Verdict

HISTOGRAM, CATEGORIES, LENGTHS = "histogram", "categories", "lengths"
CHECK = "distribution"
BINS = 10
TOP_K = 10
MAX_CATEGORIES = 63  # staging marks the categories it has in one bigint (bit_or)
SAMPLE_SEED = 20260101  # fixed: a rerun scans the same sample, so a verdict does not flap between runs
TEMP_SAMPLE = "prodlike_sample"  # the sample's temporary table when Great Expectations does not read it next
LENGTH_EDGES = [0, 1, 2, 4, 8, 12, 16, 20, 24, 32, 48, 64, 128, 256, 1024]
EPSILON = 1e-4  # floor of a bin's fraction in PSI (an empty bin would make it infinite)
NUMBER_TYPES = {"int2", "int4", "int8", "float4", "float8", "numeric"}
TIME_TYPES = {"date": pa.date32(), "timestamp": pa.timestamp("us"), "timestamptz": pa.timestamp("us", "UTC")}


def _only(chars: str) -> str:
    """SQL predicate on {x}: every character is one of the ASCII `chars` (the empty text too). It trims the UTF-8
    bytes, which is the same test for ASCII characters and several times cheaper per row than a text btrim."""
    return f"btrim(convert_to({{x}}, 'UTF8'), '\\x{chars.encode().hex()}'::bytea) = ''::bytea"


# Formats a value keeps through anonymization: (name, SQL predicate on {x} (text), RE2 pattern). The two agree.
FORMATS = [
    ("email", "{x} LIKE '%%_@_%%._%%'", r"(?s)^.+@.+\..+$"),
    ("ipv4", r"{x} ~ '^[0-9]{{1,3}}(\.[0-9]{{1,3}}){{3}}(/[0-9]{{1,2}})?$'",
     r"^[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?$"),
    ("phone", "length({x}) >= 5 AND " + _only("0123456789 +()./-"), r"^[0-9 +()./-]{5,}$"),
    ("digits", _only("0123456789"), r"^[0-9]*$"),
    ("hex", _only("0123456789abcdef"), r"^[0-9a-f]*$"),
]
FORMAT_MIN_SHARE = 0.5  # production's dominant format is checked when at least this share has it
# formats nest (an IPv4 address and a 5-digit postcode also match 'phone'): the most specific one that most values
# have names the column's format
SPECIFIC_FIRST = ("email", "ipv4", "digits", "hex", "phone")


@dataclass
class ColumnSpec:
    """What the distribution check knows of one column before the data: its type, its rule, production's edges."""

    name: str
    type_name: str
    type_category: str
    transformer: str = "keep"
    edges: list[str] | None = None  # production's bin edges as PostgreSQL text (pg_stats histogram_bounds)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def format_keeping(self) -> bool:
        """Whether the column's transformer promises to keep the input's format (its class says so)."""
        return self.anonymized and registry.get(self.transformer).format_keeping

    @property
    def anonymized(self) -> bool:
        return self.transformer != "keep"

    @property
    def mode(self) -> str:
        if self.anonymized:
            return LENGTHS
        if self.type_name in NUMBER_TYPES or self.type_name in TIME_TYPES:
            return HISTOGRAM
        if self.type_category in ("S", "B", "E"):
            return CATEGORIES
        return LENGTHS

    def arrow_type(self) -> pa.DataType:
        return TIME_TYPES.get(self.type_name, pa.float64())


def pick_edges(bounds: list[str], bins: int = BINS) -> list[str]:
    """`bins` equal-frequency bins from pg_stats histogram_bounds (about 101 equal-frequency bounds)."""
    picked = [bounds[round(i * (len(bounds) - 1) / bins)] for i in range(bins + 1)]
    return list(dict.fromkeys(picked))


def to_numbers(values: pa.Array, spec: ColumnSpec) -> np.ndarray:
    """Values (COPY text) as float64 for binning: numbers as is, dates as days, timestamps as microseconds (UTC for
    timestamptz); infinities as +-inf and BC dates at their place before year 1, so each bins where staging's
    comparisons in the column's own type put it; what does not parse at all becomes NaN."""
    try:
        typed = pc.cast(values, spec.arrow_type())
    except pa.ArrowInvalid:
        if spec.type_name in TIME_TYPES:
            return np.array([_time_number(v, spec) for v in values.to_pylist()], dtype=np.float64)
        typed = pa.array([_parse_one(v, spec) for v in values.to_pylist()], spec.arrow_type())
    if spec.type_name in TIME_TYPES:
        typed = typed.cast(pa.int32() if spec.type_name == "date" else pa.int64())
    return typed.to_numpy(zero_copy_only=False).astype(np.float64)


def _parse_one(value: str | None, spec: ColumnSpec):
    """The rare value pyarrow's cast refuses (odd formats) becomes NULL (NaN)."""
    try:
        return pc.cast(pa.array([value]), spec.arrow_type())[0].as_py()
    except (pa.ArrowInvalid, OverflowError):
        return None


_BC = re.compile(r"^(\d+)-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(\.\d+)?)?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)? BC$")


def _time_number(value: str | None, spec: ColumnSpec) -> float:
    """One date or timestamp in to_numbers' units, including what pyarrow cannot read: infinities, BC."""
    if value is None:
        return math.nan
    if value in ("infinity", "-infinity"):
        return math.inf if value == "infinity" else -math.inf
    m = _BC.match(value)
    if m is None:
        parsed = _parse_one(value, spec)
        if parsed is None:
            return math.nan
        return float(pa.scalar(parsed, spec.arrow_type()).cast(pa.int32() if spec.type_name == "date" else pa.int64())
                     .as_py())
    year, month, day, hh, mi, ss, frac, sign, oh, om, osec = m.groups()
    days = _days_from_civil(1 - int(year), int(month), int(day))  # 1 BC is year 0
    if spec.type_name == "date":
        return float(days)
    micros = (int(hh or 0) * 3600 + int(mi or 0) * 60 + int(ss or 0)) * 1_000_000 + round(float(frac or 0) * 1e6)
    offset = (int(oh or 0) * 3600 + int(om or 0) * 60 + int(osec or 0)) * (-1 if sign == "-" else 1)
    return float(days * 86_400_000_000 + micros - offset * 1_000_000)


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """(astronomical year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm)."""
    days += 719_468
    era = days // 146_097
    doe = days - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, doy - (153 * mp + 2) // 5 + 1


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, any astronomical year (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468


def from_number(value: float | None, spec: ColumnSpec) -> str | float | None:
    """A binning number back as the report shows it (ISO text for dates and timestamps)."""
    if value is None or not math.isfinite(value):
        return None
    if spec.type_name not in TIME_TYPES:
        return float(value)
    days, micros = (round(value), 0) if spec.type_name == "date" else divmod(round(value), 86_400_000_000)
    year, month, day = _civil_from_days(days)
    if 1 <= year <= 9999:
        if spec.type_name == "date":
            return date(year, month, day).isoformat()
        stamp = datetime(year, month, day, tzinfo=UTC) + timedelta(microseconds=micros)
        return stamp.isoformat() if spec.type_name == "timestamptz" else stamp.replace(tzinfo=None).isoformat()
    # beyond Python's dates (BC, or after 9999): PostgreSQL's own notation, which it reads back
    text = f"{abs(year - 1) if year < 1 else year:04d}-{month:02d}-{day:02d}"
    if spec.type_name != "date":
        text += " " + (datetime(2000, 1, 1) + timedelta(microseconds=micros)).time().isoformat()
        text += "+00" if spec.type_name == "timestamptz" else ""
    return text + (" BC" if year < 1 else "")


@dataclass
class ColumnProfile:
    """One column's statistics on one side: counts per bin/category/length, nulls, min/max/mean, formats."""

    rows: int = 0
    nulls: int = 0
    counts: list[int] = field(default_factory=list)  # per bin (histogram, lengths) or per label (categories)
    labels: dict[str, int] = field(default_factory=dict)  # categories: label -> count (production)
    overflow: bool = False  # more distinct values than MAX_CATEGORIES
    minimum: float | None = None
    maximum: float | None = None
    total: float = 0.0
    finite: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=list)

    @property
    def null_fraction(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0

    @property
    def mean(self) -> float | None:
        return self.total / self.finite if self.finite else None

    def merge(self, other: ColumnProfile) -> None:
        self.rows += other.rows
        self.nulls += other.nulls
        self.counts = _add(self.counts, other.counts)
        self.lengths = _add(self.lengths, other.lengths)
        for k, v in other.labels.items():
            self.labels[k] = self.labels.get(k, 0) + v
        self.overflow = self.overflow or other.overflow or len(self.labels) > MAX_CATEGORIES
        for k, v in other.formats.items():
            self.formats[k] = self.formats.get(k, 0) + v
        self.minimum = _pick(min, self.minimum, other.minimum)
        self.maximum = _pick(max, self.maximum, other.maximum)
        self.total += other.total
        self.finite += other.finite


def _add(a: list[int], b: list[int]) -> list[int]:
    if not a:
        return list(b)
    return [x + y for x, y in zip(a, b)] if b else a


def _pick(f, a, b):
    return b if a is None else a if b is None else f(a, b)


def bucket(numbers: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin numbers as staging's least(greatest(width_bucket(x, edges), 1), n) does (out-of-range clamped)."""
    n = len(edges) - 1
    found = np.searchsorted(edges, numbers, side="right")
    return np.clip(found, 1, n) - 1


def _histogram(numbers: np.ndarray, edges: np.ndarray) -> list[int]:
    return np.bincount(bucket(numbers, edges), minlength=len(edges) - 1).tolist()


class StreamProfile:
    """Production's statistics of one table (or leaf), accumulated batch by batch from COPY text; the
    values live only in the batch being parsed."""

    def __init__(self, columns: list[str], specs: dict[str, ColumnSpec], threads: bool = True):
        self.columns = columns
        self.specs = specs
        self.threads = threads  # pyarrow's own threads: off in worker processes, which are one per core already
        self.rows = 0
        self.profiles = {name: ColumnProfile() for name in specs}
        self.failed: str | None = None  # the error class that stopped profiling (never its message: values)

    def add(self, data: bytes | memoryview) -> None:
        """Parse one batch of whole COPY text rows and accumulate every checked column."""
        if not data:
            return
        table = copytext.parse(data, self.columns, include=list(self.specs), nulls=True, threads=self.threads,
                               one_chunk=False)
        self.add_columns(table.num_rows, {name: table.column(name).combine_chunks() for name in self.specs})
        del table
        if len(data) > 16 << 20:  # a huge batch (one huge value): give its memory back at once
            pa.default_memory_pool().release_unused()

    def add_columns(self, rows: int, columns: dict[str, pa.Array]) -> None:
        """Accumulate one batch already parsed: every checked column as COPY text in a string array, NULLs null."""
        self.rows += rows
        for name, spec in self.specs.items():
            self._add_column(spec, self.profiles[name], columns[name])

    def _add_column(self, spec: ColumnSpec, prof: ColumnProfile, values: pa.Array) -> None:
        prof.rows += len(values)
        prof.nulls += values.null_count
        present = values.drop_null()
        if spec.mode == HISTOGRAM:
            self._add_numbers(spec, prof, present)
            return
        if spec.mode == CATEGORIES and not prof.overflow:
            counts = pc.value_counts(present)
            prof.overflow = len(counts) > MAX_CATEGORIES
            for label, count in zip(counts.field("values").to_pylist() if not prof.overflow else [],
                                    counts.field("counts").to_pylist()):
                label = copytext.unescape_text(label)  # as staging's value::text reads it
                prof.labels[label] = prof.labels.get(label, 0) + count
            prof.overflow = prof.overflow or len(prof.labels) > MAX_CATEGORIES
            if prof.overflow:
                prof.labels = {}
        lengths = copytext.value_lengths(present).to_numpy(zero_copy_only=False)  # as staging's length() counts
        prof.lengths = _add(prof.lengths, _histogram(lengths, np.array(LENGTH_EDGES, dtype=np.float64)))
        if spec.format_keeping and len(present):
            rest = present
            for fmt, _, pattern in FORMATS:
                hits = pc.match_substring_regex(rest, pattern)
                matched = pc.sum(hits).as_py() or 0
                prof.formats[fmt] = prof.formats.get(fmt, 0) + matched
                if fmt == "email" and matched:  # an email has an '@', which no other format allows: not tested again
                    rest = pc.filter(rest, pc.invert(hits))

    def _add_numbers(self, spec: ColumnSpec, prof: ColumnProfile, present: pa.Array) -> None:
        numbers = to_numbers(present, spec)
        with spec._lock:  # no production statistics: the first batch's quantiles become the edges
            if spec.edges is None and len(numbers):
                spec.edges = [str(from_number(v, spec)) for v in _quantile_edges(numbers)]
        finite = numbers[np.isfinite(numbers)]
        if len(finite):
            prof.minimum = _pick(min, prof.minimum, float(finite.min()))
            prof.maximum = _pick(max, prof.maximum, float(finite.max()))
            prof.total += float(finite.sum())
            prof.finite += len(finite)
        if spec.edges and len(spec.edges) > 1:
            edges = to_numbers(pa.array(spec.edges), spec)
            prof.counts = _add(prof.counts, _histogram(numbers, edges))

    def merge(self, other: StreamProfile) -> None:
        self.failed = self.failed or other.failed
        self.rows += other.rows
        for name, prof in other.profiles.items():
            self.profiles[name].merge(prof)


def _quantile_edges(numbers: np.ndarray) -> list[float]:
    finite = numbers[np.isfinite(numbers)]
    if not len(finite):
        return []
    return list(dict.fromkeys(np.quantile(finite, np.linspace(0, 1, BINS + 1)).tolist()))


def effective_mode(spec: ColumnSpec, prod: ColumnProfile) -> str:
    """Categories that overflowed MAX_CATEGORIES, and histograms without edges, fall back to lengths."""
    if spec.mode == CATEGORIES and (prod.overflow or not prod.labels):
        return LENGTHS
    if spec.mode == HISTOGRAM and not (spec.edges and len(spec.edges) > 1):
        return LENGTHS
    return spec.mode


def dominant_format(prod: ColumnProfile) -> str | None:
    """The format most of production's non-NULL values have (None: no known format)."""
    present = prod.rows - prod.nulls
    if not present or not prod.formats:
        return None
    common = [name for name in SPECIFIC_FIRST if prod.formats.get(name, 0) / present >= FORMAT_MIN_SHARE]
    return common[0] if common else None


def checked_format(spec: ColumnSpec, prod: ColumnProfile) -> str | None:
    """The format staging must keep: production's dominant one, for transformers that promise to keep it."""
    return dominant_format(prod) if spec.format_keeping else None


def category_labels(prod: ColumnProfile) -> list[str]:
    """Production's categories, most frequent first (ties by label), all of them (at most MAX_CATEGORIES)."""
    return [k for k, _ in sorted(prod.labels.items(), key=lambda kv: (-kv[1], kv[0]))]


def _as_copy_text(x: str, spec: ColumnSpec) -> str:
    """The value as COPY writes it (bool as t/f, char(n) with its padding); a plain cast elsewhere (cheaper)."""
    if spec.type_name == "bool":
        return f"CASE WHEN {x} THEN 't' WHEN NOT {x} THEN 'f' END"
    if spec.type_name == "bpchar":  # format() of NULL is '', not NULL
        return f"CASE WHEN {x} IS NOT NULL THEN format('%%s', {x}) END"
    return f"{x}::text"


_EDGE_TYPES = {"date": "date", "timestamp": "timestamp", "timestamptz": "timestamptz"}


def _number_sql(x: str, spec: ColumnSpec) -> tuple[str, str, str]:
    """(what the scan compares with production's edges, its SQL type, the value as float8 for min/max/mean,
    NULL when not finite). Numbers are compared as float8, as production bins them; dates and timestamps in
    their own type. Each is computed once per row (numeric to float8 goes through text: it is the costly one)."""
    if spec.type_name == "date":
        return x, "date", f"CASE WHEN isfinite({x}) THEN ({x} - date '1970-01-01')::float8 END"
    if spec.type_name in _EDGE_TYPES:  # date_part is float8 (extract would be numeric: three times slower)
        return x, spec.type_name, f"CASE WHEN isfinite({x}) THEN date_part('epoch', {x}) * 1e6 END"
    return f"{x}::float8", "float8", ""


class StagingQuery:
    """One aggregate scan of a staging table computing every column's counts on production's bins.

    The inner query computes each column's costly expression once per row (the float8 value, the text, the
    length); the outer one counts with cheap comparisons on them. A histogram is read as cumulative counts
    (`value < edge` for each inner edge, bin i = C(i) - C(i-1)), which bins exactly as
    least(greatest(width_bucket(value, edges), 1), n) does (out-of-range values clamped into the outer bins,
    NaN last) without a width_bucket call or a bin number per row. A category's count is `text = label`; rows in
    categories production does not have are the non-NULL rest. clock_timestamp() (volatile, parallel safe)
    keeps the planner from inlining the inner expressions into every aggregate (as OFFSET 0 would, but OFFSET 0
    also forbids a parallel scan)."""

    def __init__(self, relation: str, specs: dict[str, ColumnSpec], prod: StreamProfile):
        self.relation, self.specs, self.prod = relation, specs, prod
        self.inner: list[str] = ["clock_timestamp() AS t_"]
        self.outer: list[str] = ["count(*)"]
        self.params: list = []

    def sql(self) -> tuple[str, list]:
        for i, (name, spec) in enumerate(self.specs.items()):
            self._column(i, name, spec)
        return (f"SELECT {', '.join(self.outer)} FROM (SELECT {', '.join(self.inner)} FROM {self.relation}) s",
                self.params)

    def _cumulative(self, x: str, edges: list, cast: str | None) -> None:
        """count(x), then the rows below each inner edge (edges as parameters cast to `cast`, or literals)."""
        self.outer.append(f"count({x})")
        for edge in edges[1:-1]:
            if cast is None:
                self.outer.append(f"count(*) FILTER (WHERE {x} < {edge})")
            else:
                self.outer.append(f"count(*) FILTER (WHERE {x} < %s::{cast})")
                self.params.append(edge)

    def _column(self, i: int, name: str, spec: ColumnSpec) -> None:
        quoted = _ident(name)
        prof = self.prod.profiles[name]
        mode = effective_mode(spec, prof)
        if mode == HISTOGRAM:
            compared, cast, number = _number_sql(quoted, spec)
            self.inner.append(f"{compared} AS b{i}")
            self._cumulative(f"b{i}", spec.edges, cast)
            if number:
                self.inner.append(f"{number} AS v{i}")
                self.outer += [f"min(v{i})", f"max(v{i})", f"sum(v{i})", f"count(v{i})"]
            elif spec.type_name in INTEGER_TYPES:  # always finite
                self.outer += [f"min(b{i})", f"max(b{i})", f"sum(b{i})", f"count(b{i})"]
            else:  # NaN sorts above Infinity: these two comparisons keep the finite values
                finite = f"FILTER (WHERE b{i} > '-Infinity' AND b{i} < 'Infinity')"
                self.outer += [f"{agg}(b{i}) {finite}" for agg in ("min", "max", "sum", "count")]
        elif mode == CATEGORIES:
            self.inner.append(f"{_as_copy_text(quoted, spec)} AS k{i}")
            self.outer.append(f"count(k{i})")
            for label in category_labels(prof):
                self.outer.append(f"count(*) FILTER (WHERE k{i} = %s)")
                self.params.append(label)
        else:
            text = _as_copy_text(quoted, spec)
            self.inner.append(f"length({text}) AS n{i}")
            self._cumulative(f"n{i}", LENGTH_EDGES, None)
            fmt = checked_format(spec, prof)
            if fmt:
                self.inner.append(f"{text} AS t{i}")
                predicate = dict((f, p) for f, p, _ in FORMATS)[fmt].format(x=f"t{i}")
                self.outer.append(f"count(*) FILTER (WHERE {predicate})")

    def read(self, row: tuple) -> dict[str, ColumnProfile]:
        """Staging's profiles from the scan's one row (the same order the SQL was built in)."""
        values = iter(row)
        rows = next(values)
        out = {}
        for name, spec in self.specs.items():
            prof = self.prod.profiles[name]
            mode = effective_mode(spec, prof)
            stage = ColumnProfile(rows=rows)
            present = next(values)
            stage.nulls = rows - present
            if mode == HISTOGRAM:
                stage.counts = _bins(present, [next(values) for _ in spec.edges[1:-1]])
                stage.minimum, stage.maximum, total, stage.finite = (next(values) for _ in range(4))
                stage.minimum, stage.maximum = _float(stage.minimum), _float(stage.maximum)
                stage.total = float(total or 0.0)
            elif mode == CATEGORIES:
                stage.counts = [next(values) for _ in category_labels(prof)]
                stage.labels = {"(new)": present - sum(stage.counts)}
            else:
                stage.lengths = _bins(present, [next(values) for _ in LENGTH_EDGES[1:-1]])
                fmt = checked_format(spec, prof)
                if fmt:
                    stage.formats[fmt] = next(values)
            out[name] = stage
        return out


def _bins(present: int, below: list[int]) -> list[int]:
    """Counts per bin from the counts below each inner edge (the last bin holds the rest)."""
    bounds = [0, *below, present]
    return [b - a for a, b in zip(bounds, bounds[1:])]


def _float(value) -> float | None:
    return None if value is None else float(value)


def fractions(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index: sum (a - e) ln(a / e), empty bins floored at EPSILON."""
    return float(sum((max(a, EPSILON) - max(e, EPSILON)) * math.log(max(a, EPSILON) / max(e, EPSILON))
                     for e, a in zip(expected, actual)))


def ks(expected: list[float], actual: list[float]) -> float:
    """Kolmogorov-Smirnov statistic on the bins: the largest gap between the two cumulative fractions."""
    return float(np.max(np.abs(np.cumsum(expected) - np.cumsum(actual)))) if expected else 0.0


def jensen_shannon(p: list[float], q: list[float]) -> float:
    """Jensen-Shannon divergence (log base 2, between 0 and 1)."""
    def kl(a, b):
        return sum(x * math.log2(x / y) for x, y in zip(a, b) if x > 0 and y > 0)
    m = [(x + y) / 2 for x, y in zip(p, q)]
    return float(kl(p, m) / 2 + kl(q, m) / 2)


@dataclass
class Statistic:
    name: str
    production: float | None
    staging: float | None
    divergence: float
    threshold: Threshold

    @property
    def verdict(self) -> Verdict:
        return self.threshold.judge(self.divergence)


_ORDER = {Verdict.PASS: 0, Verdict.WARN: 1, Verdict.ERROR: 2}


def _fmt(value, spec: ColumnSpec | None = None) -> str:
    if spec is not None:
        value = from_number(value, spec)
    if value is None:
        return "-"
    return value if isinstance(value, str) else f"{value:.6g}"


def compare_column(table: str, spec: ColumnSpec, prod: ColumnProfile, stage: ColumnProfile,
                   thresholds: dict[str, Threshold]) -> CheckResult:
    """One column's result: every statistic judged by its threshold; the worst one is the result's statistic."""
    mode = effective_mode(spec, prod)
    stats = [Statistic("null_fraction", prod.null_fraction, stage.null_fraction,
                       abs(prod.null_fraction - stage.null_fraction), thresholds["null_fraction"])]
    if mode == HISTOGRAM:
        plot, notes = _histogram_stats(spec, prod, stage, thresholds, stats)
    elif mode == CATEGORIES:
        plot, notes = _category_stats(prod, stage, thresholds, stats)
    else:
        plot, notes = _length_stats(spec, prod, stage, thresholds, stats)
    worst = max(stats, key=_headline_rank)
    head = f"{table}.{spec.name}" + (f" ({spec.transformer})" if spec.anonymized else "")
    parts = [_describe(s) for s in stats] + notes
    return CheckResult(CHECK, table, spec.name, worst.name, worst.production, worst.staging, worst.divergence,
                       worst.threshold, worst.verdict, f"{head}: " + "; ".join(parts), [plot])


# the statistic that says most about each kind of column, for the headline when verdicts and closeness tie
_PRIMARY = {"format_share": 4, "psi": 3, "length_psi": 2, "ks": 1, "null_fraction": 0}


def _headline_rank(stat: Statistic) -> tuple:
    """Which statistic heads a column's result: the worst verdict, then a judged one (it has a threshold) before
    one that is only reported, then the one closest to its threshold, then the column kind's primary one."""
    limit = stat.threshold.warn if stat.threshold.warn is not None else stat.threshold.error
    judged = limit is not None
    closeness = stat.divergence / limit if judged and limit > 0 else (float(stat.divergence > 0) if judged else 0.0)
    return _ORDER[stat.verdict], judged, round(closeness, 6), _PRIMARY.get(stat.name, 0)


def _describe(stat: Statistic) -> str:
    level = stat.threshold.error if stat.verdict == Verdict.ERROR else stat.threshold.warn
    limit = f" > {level:g}" if stat.verdict != Verdict.PASS and level is not None else ""
    if stat.production is None:
        return f"{stat.name} {stat.divergence:.3g}{limit}"
    return f"{stat.name} {_num(stat.production)} vs {_num(stat.staging)} ({stat.divergence:.3g} apart{limit})"


def _num(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _histogram_stats(spec, prod, stage, thresholds, stats) -> tuple[dict, list[str]]:
    p, s = fractions(prod.counts), fractions(stage.counts)
    stats.append(Statistic("psi", None, None, psi(p, s), thresholds["distribution"]))
    stats.append(Statistic("ks", None, None, ks(p, s), thresholds["ks"]))
    notes = [f"mean {_fmt(prod.mean, spec)} vs {_fmt(stage.mean if stage.finite else None, spec)}",
             f"range {_fmt(prod.minimum, spec)}..{_fmt(prod.maximum, spec)} vs "
             f"{_fmt(stage.minimum, spec)}..{_fmt(stage.maximum, spec)}"]
    edges = [from_number(v, spec) for v in to_numbers(pa.array(spec.edges), spec)]
    return {"plot": HISTOGRAM, "edges": edges, "production": p, "staging": s}, notes


def _category_stats(prod, stage, thresholds, stats) -> tuple[dict, list[str]]:
    labels = category_labels(prod)
    prod_counts = [prod.labels[k] for k in labels]
    shown = labels[:TOP_K]
    p_counts, s_counts = prod_counts[:TOP_K], stage.counts[:TOP_K]
    if len(labels) > TOP_K:
        shown, p_counts, s_counts = (shown + ["(other)"], p_counts + [sum(prod_counts[TOP_K:])],
                                     s_counts + [sum(stage.counts[TOP_K:])])
    new_rows = stage.labels.get("(new)", 0)
    if new_rows:
        shown, p_counts, s_counts = shown + ["(new)"], p_counts + [0], s_counts + [new_rows]
    p, s = fractions(p_counts), fractions(s_counts)
    stats.append(Statistic("psi", None, None, psi(p, s), thresholds["distribution"]))
    vanished = [k for k, c in zip(labels, stage.counts) if c == 0]
    notes = [f"Jensen-Shannon {jensen_shannon(p, s):.3g}",
             f"{len(vanished)} vanished categor{'y' if len(vanished) == 1 else 'ies'}"
             + (f" ({', '.join(vanished[:5])})" if vanished else ""),
             f"{new_rows:,} staging rows in categories production does not have"]
    return {"plot": CATEGORIES, "labels": shown, "production": p, "staging": s}, notes


def _length_stats(spec, prod, stage, thresholds, stats) -> tuple[dict, list[str]]:
    p, s = fractions(prod.lengths), fractions(stage.lengths)
    which = "lengths" if spec.anonymized else "distribution"
    stats.append(Statistic("length_psi", None, None, psi(p, s), thresholds[which]))
    fmt = checked_format(spec, prod)
    notes = []
    if fmt:
        share_p = prod.formats[fmt] / max(prod.rows - prod.nulls, 1)
        share_s = stage.formats.get(fmt, 0) / max(stage.rows - stage.nulls, 1)
        stats.append(Statistic("format_share", share_p, share_s, abs(share_p - share_s), thresholds["format"]))
        notes.append(f"format {fmt}")
    elif spec.anonymized and spec.format_keeping:
        notes.append("no known format in production")
    plot = {"plot": LENGTHS, "edges": LENGTH_EDGES, "production": p, "staging": s,
            "null_fraction": [prod.null_fraction, stage.null_fraction]}
    return plot, notes


def _ident(name: str) -> str:
    """A column name as a quoted SQL identifier (psycopg's quoting)."""
    return sql.Identifier(name).as_string()


def sample_percent(rows: int, sample_rows: int) -> float:
    """The share (in percent) of staging's rows the scan reads: all of them up to `sample_rows` (0: always all),
    a Bernoulli sample of about `sample_rows` rows beyond."""
    return 100.0 if not sample_rows or rows <= sample_rows else 100.0 * sample_rows / rows


def compare(table: str, relation: str, conn, prod: StreamProfile, thresholds: dict[str, dict[str, Threshold]],
            sample_rows: int = 0, keep_sample: str | None = None) -> list[CheckResult]:
    """Every checked column of one table: one scan of `relation` on staging, then one result per column.
    A table of more than `sample_rows` rows is judged on a Bernoulli sample of about that many rows, drawn once
    into a table of its own (`keep_sample`, an unlogged table Great Expectations reads next, or a temporary one):
    every statistic judged is a share, which a sample of a million rows measures to about 0.001; production's
    side stays exact. thresholds maps column -> statistic -> Threshold."""
    if not prod.specs:
        return []
    if prod.failed:
        return [CheckResult(CHECK, table, None, "psi", None, None, None, thresholds[next(iter(prod.specs))]
                            ["distribution"], Verdict.SKIPPED, f"{table}: production's values could not be profiled "
                            f"from the copy stream ({prod.failed}); distributions not compared")]
    percent = sample_percent(prod.rows, sample_rows)
    scanned = relation if percent == 100 else draw_sample(conn, relation, list(prod.specs), percent, keep_sample)
    query = StagingQuery(scanned, prod.specs, prod)
    sql, params = query.sql()
    staged = query.read(conn.execute(sql, params).fetchone())
    if percent < 100 and keep_sample is None:
        conn.execute(f"DROP TABLE {scanned}")
    found = [compare_column(table, spec, prod.profiles[name], staged[name], thresholds[name])
             for name, spec in prod.specs.items()]
    if percent < 100:
        rows = next(iter(staged.values())).rows if staged else 0
        note = f"; staging's side from a {percent:.3g}% sample ({rows:,} rows; production's exact)"
        found = [replace(r, explanation=r.explanation + note) for r in found]
    return found


def draw_sample(conn, relation: str, columns: list[str], percent: float, into: str | None = None) -> str:
    """Copy a REPEATABLE Bernoulli sample of `relation`'s columns into a new table, `into` (unlogged) or a temporary
    one (a rerun draws the same rows, so a verdict does not flap between runs); the table to scan."""
    target = into or f"pg_temp.{TEMP_SAMPLE}"
    conn.execute(f"DROP TABLE IF EXISTS {target}")
    conn.execute(f"CREATE {f'UNLOGGED TABLE {into}' if into else f'TEMPORARY TABLE {TEMP_SAMPLE}'} AS SELECT "
                 f"{', '.join(map(_ident, columns))} FROM {relation} "
                 f"TABLESAMPLE BERNOULLI ({percent:.6f}) REPEATABLE ({SAMPLE_SEED})")
    return target


_BOUNDS = """
SELECT schemaname || '.' || tablename, attname, inherited, histogram_bounds::text::text[]
FROM pg_stats WHERE schemaname = ANY(%s) AND schemaname || '.' || tablename = ANY(%s) AND attname = ANY(%s)
  AND histogram_bounds IS NOT NULL
"""


def read_edges(conn, specs: dict[str, dict[str, ColumnSpec]], leaves: dict[str, list[str]]) -> None:
    """Set production's bin edges of every keep number/date column from pg_stats histogram_bounds (a catalog
    read inside the snapshot, no table scan): the table's own (inherited) statistics, else the leaves' merged."""
    wanted = {(q, c) for q, cols in specs.items() for c, s in cols.items() if s.mode == HISTOGRAM}
    if not wanted:
        return
    names = sorted({n for q, _ in wanted for n in [q, *leaves.get(q, [])]})
    rows = conn.execute(_BOUNDS, (sorted({n.split(".", 1)[0] for n in names}), names,
                                  sorted({c for _, c in wanted}))).fetchall()
    owner = {leaf: q for q, ls in leaves.items() for leaf in ls}
    own: dict[tuple[str, str], list[str]] = {}
    merged: dict[tuple[str, str], list[str]] = {}
    for name, column, inherited, bounds in rows:
        if (name, column) in wanted and (inherited or name not in leaves or leaves[name] == [name]):
            own[(name, column)] = bounds
        elif (owner.get(name), column) in wanted:
            merged.setdefault((owner[name], column), []).extend(bounds)
    for q, column in wanted:
        spec = specs[q][column]
        bounds = own.get((q, column)) or _sorted_bounds(merged.get((q, column), []), spec)
        if len(bounds) > 1:
            spec.edges = pick_edges(bounds)


def _sorted_bounds(bounds: list[str], spec: ColumnSpec) -> list[str]:
    if not bounds:
        return []
    numbers = to_numbers(pa.array(bounds), spec)
    return [bounds[i] for i in np.argsort(numbers, kind="stable")]


DRIFT = "distribution_drift"


def production_plot(result: CheckResult) -> dict | None:
    """Production's side of a distribution result's plot (what is kept per release): axis and fractions."""
    if not result.details or result.column is None:
        return None
    plot = result.details[0]
    axis = "labels" if plot["plot"] == CATEGORIES else "edges"
    return {"plot": plot["plot"], axis: plot[axis], "production": plot["production"]}


def _edge_number(value) -> float:
    if isinstance(value, str):
        stamp = datetime.fromisoformat(value)
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    return float(value)


def rebin(edges: list, fractions: list[float], onto: list) -> list[float]:
    """A histogram moved onto other edges, mass spread linearly within each bin (outside mass folded in)."""
    src = [_edge_number(e) for e in edges]
    dst = [_edge_number(e) for e in onto]
    cdf = np.concatenate([[0.0], np.cumsum(fractions)])
    at = np.interp(dst, src, cdf)
    at[0], at[-1] = 0.0, cdf[-1]
    return np.diff(at).tolist()


def drift_check(table: str, column: str, previous: dict | None, current: dict, threshold: Threshold) -> CheckResult:
    """Production's distribution now against at the live release (PSI); a shift past the threshold is production's
    own drift (WARN by default)."""
    head = f"{table}.{column}"
    if previous is None or previous["plot"] != current["plot"]:
        return CheckResult(DRIFT, table, column, "psi", None, None, None, threshold, Verdict.PASS,
                           f"{head}: no distribution of the live release to compare with", [])
    if current["plot"] == CATEGORIES:
        before = dict(zip(previous["labels"], previous["production"]))
        prev = [before.get(label, 0.0) for label in current["labels"]]
    elif current["plot"] == HISTOGRAM and previous["edges"] != current["edges"]:
        prev = rebin(previous["edges"], previous["production"], current["edges"])
    else:
        prev = previous["production"]
    value = psi(prev, current["production"])
    verdict = threshold.judge(value)
    axis = "labels" if current["plot"] == CATEGORIES else "edges"
    return CheckResult(DRIFT, table, column, "psi", None, None, value, threshold, verdict,
                       f"{head}: production's {current['plot']} moved by PSI {value:.3g} since the live release"
                       + (f" (warn above {threshold.warn:g})" if threshold.warn is not None else ""),
                       [{"plot": current["plot"], axis: current[axis], "previous": prev,
                         "production": current["production"]}])
