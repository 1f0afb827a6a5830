"""Per-transformer throughput on N distinct values (default 1M), as a table or --json; the pool family also under
a narrow length limit (varchar(n) a few characters above its minimum width: many picks refitted), and the free-text
transformer (regex_redact) on 200-character texts holding names, an e-mail and a national phone, alone and with
the row's first_name/last_name columns (row names: the path a table with person-name columns takes)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402

from prodlike.anonymizers import registry  # noqa: E402
from prodlike.anonymizers.base import Batch, ColumnInfo  # noqa: E402

KEY = b"benchmark-key-not-secret-0123456789abcdef"
POOL_FAMILY = ("email", "first_name", "last_name", "full_name", "street", "city", "address")
TARGETS = {"hash": 500_000, "tokenize": 200_000, "regex_redact": 50_000, "postcode": 300_000,
           **{p: 300_000 for p in POOL_FAMILY}, **{f"{p} (narrow)": 300_000 for p in POOL_FAMILY}}
NARROW = 4  # characters above the transformer's minimum width
ROW_NAMES = "regex_redact (row names)"
FIRSTS, LASTS = ("Anna", "Jorge", "Maria", "Quillon"), ("Smith", "Kowalski", "Brackwater")
NOTE = ("Dear {first} {last}, thanks for your order {i} of {day}. We tried to call you at 030-{i:07d} but could not "
        "reach you; please write to {first}.{last}{i}@mail.example or reply here. Kind regards, Kim Weber")


def values(name: str, n: int) -> tuple[list[str], str]:
    if name in ("date_shift", "birth_date"):
        return [f"{1950 + i % 70}-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)], "D"
    if name in ("numeric_noise",):
        return [f"{i}.{i % 100:02d}" for i in range(n)], "N"
    if name == "ip":
        return [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(n)], "I"
    if name == "phone":
        return [f"+49 30 {i:07d}" for i in range(n)], "S"
    if name == "json":
        return [f'{{"contact": {{"email": "u{i}@x.example"}}, "n": {i}}}' for i in range(n)], "U"
    if name == "regex_redact":  # about 200 characters each
        return [NOTE.format(first=FIRSTS[i % 4], last=LASTS[i % 3], i=i, day=f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}")
                for i in range(n)], "S"
    if name == "tokenize":
        return [f"SKU-{i:07d}" for i in range(n)], "S"
    if name == "postcode":  # Japanese style: a million distinct codes of one shape
        return [f"{i // 10000:03d}-{i % 10000:04d}" for i in range(n)], "S"
    return [f"user{i}@mail{i % 97}.example.org" for i in range(n)], "S"


def _row_names(n: int):
    """regex_redact bound to the row's first_name and last_name columns, and a batch holding them."""
    t = registry.get("regex_redact")({}, KEY, ColumnInfo(type_category="S"))
    names = {"first_name": registry.get("first_name")({}, KEY, ColumnInfo()),
             "last_name": registry.get("last_name")({}, KEY, ColumnInfo())}
    t.bind({**names, "notes": t})
    return t, {"first_name": [FIRSTS[i % 4] for i in range(n)], "last_name": [LASTS[i % 3] for i in range(n)]}


def _rate(t, vals: list[str], columns: dict | None = None) -> tuple[int, int]:
    """(values per wall-clock second, values per CPU second): on a shared machine the second is the steadier."""
    batch = Batch({**columns, "notes": vals}) if columns else None
    t0, c0 = time.perf_counter(), time.process_time()
    t.transform(vals, batch)
    return round(len(vals) / (time.perf_counter() - t0)), round(len(vals) / (time.process_time() - c0))


def _arrow_rate(t, vals: pa.Array, columns: dict | None = None) -> int:
    """Values per wall-clock second of the form the copy path calls: an Arrow column in, an Arrow column out."""
    batch = Batch({**columns, "notes": vals.to_pylist()}) if columns else None
    t0 = time.perf_counter()
    t.transform_arrow(vals, batch)
    return round(len(vals) / (time.perf_counter() - t0))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--values", type=int, default=1_000_000)
    p.add_argument("--json", action="store_true")
    p.add_argument("--only", nargs="*")
    p.add_argument("--repeat", type=int, default=1, help="runs per transformer; the best and the median rates are "
                                                         "reported")
    args = p.parse_args()
    out, runs, cpu, arrow, arrow_runs = {}, {}, {}, {}, {}
    wanted = args.only or registry.names()
    runs_of = ([(n, None) for n in wanted] + [(n, NARROW) for n in wanted if n in POOL_FAMILY]
               + [(ROW_NAMES, None)] * ("regex_redact" in wanted))
    for name, narrow in runs_of:
        vals, cat = values(name.split(" ")[0], args.values)
        params = {"constant": {"value": "x"}, "json": {"paths": {"contact.email": "email"}}}.get(name, {})
        columns = None
        if name == ROW_NAMES:
            t, columns = _row_names(args.values)
        else:
            t = registry.get(name)(params, KEY, ColumnInfo(type_category=cat))
        if narrow is not None:
            t = registry.get(name)(params, KEY, ColumnInfo(type_category=cat, max_length=t.min_width + narrow))
            name = f"{name} (narrow)"
        t.transform(vals[:1000], Batch({k: v[:1000] for k, v in columns.items()}) if columns else None)  # warm-up
        rates = [_rate(t, vals, columns) for _ in range(max(1, args.repeat))]
        runs[name] = [wall for wall, _ in rates]
        out[name], cpu[name] = max(runs[name]), max(c for _, c in rates)
        column = pa.array(vals, pa.string())
        arrow_runs[name] = [_arrow_rate(t, column, columns) for _ in range(max(1, args.repeat))]
        arrow[name] = max(arrow_runs[name])
    if args.json:
        print(json.dumps({"values": args.values, "values_per_s": out, "runs": runs, "values_per_cpu_s": cpu,
                          "median_values_per_s": {n: round(median(r)) for n, r in runs.items()},
                          "arrow_values_per_s": arrow, "arrow_runs": arrow_runs,
                          "median_arrow_values_per_s": {n: round(median(r)) for n, r in arrow_runs.items()},
                          "targets": TARGETS}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"transformer throughput, {args.values:,} distinct values each")
    for col in ("transformer", "values/s", "median", "range", "per CPU s", "Arrow column", "Arrow median", "target",
                "meets"):
        table.add_column(col, justify="left" if col == "transformer" else "right")
    for name, rate in out.items():
        target = TARGETS.get(name)
        table.add_row(name, f"{rate:,}", f"{round(median(runs[name])):,}", f"{min(runs[name]):,}-{rate:,}",
                      f"{cpu[name]:,}", f"{arrow[name]:,}", f"{round(median(arrow_runs[name])):,}",
                      f"{target:,}" if target else "-", ("yes" if rate >= target else "[red]no[/]") if target else "-")
    Console(width=max(Console().width, 110)).print(table)
    print("values/s: transform() of Python strings, best of --repeat runs (median beside it); Arrow column: "
          "transform_arrow(), the form the copy path calls")


if __name__ == "__main__":
    main()
