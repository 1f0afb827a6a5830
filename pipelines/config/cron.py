"""Five-field cron expressions (minute hour day-of-month month day-of-week, as Dagster schedules read them):
parsed with an error that names the bad field, and the longest gap between two firings."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from prodlike.pipelines.errors import ProdlikeError

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
NAMES = {3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
         4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}
START = date(2026, 1, 1)  # gaps are measured over a year of firings from here, DST changes included
DAYS = 400


class CronError(ProdlikeError, ValueError):
    """A cron expression that cannot be read; the message names the field and what it allows."""


def _number(text: str, index: int) -> int:
    names = NAMES.get(index, [])
    if text.lower() in names:
        return names.index(text.lower()) + (1 if index == 3 else 0)
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


def _item(item: str, index: int) -> set[int]:
    name, low, high = FIELDS[index]
    base, _, step_text = item.partition("/")
    step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
    if step_text and step is None:
        raise CronError(f"{name} {item!r}: the step after '/' must be a positive number")
    if base == "*":
        first, last = low, high
    else:
        start, dash, end = base.partition("-")
        try:
            first = _number(start, index)
            last = _number(end, index) if dash else (high if step else first)
        except ValueError:
            raise CronError(f"{name} {item!r}: expected a number from {low} to {high}"
                            + (f" or a name such as {NAMES[index][1]!r}" if index in NAMES else "")) from None
    if not (low <= first <= high and low <= last <= high) or first > last:
        raise CronError(f"{name} {item!r}: out of range ({low}-{high})")
    values = set(range(first, last + 1, step or 1))
    return {0 if index == 4 and v == 7 else v for v in values}


def parse(cron: str) -> tuple[list[set[int]], bool, bool]:
    """(allowed values per field, day-of-month restricted, day-of-week restricted)."""
    parts = cron.split()
    if len(parts) != 5:
        raise CronError(f"expected 5 cron fields (minute hour day month weekday), got {len(parts)}")
    fields = []
    for index, part in enumerate(parts):
        values: set[int] = set()
        for item in part.split(","):
            values |= _item(item, index)
        fields.append(values)
    return fields, parts[2] != "*", parts[4] != "*"


def _runs_on(day: date, fields: list[set[int]], dom_restricted: bool, dow_restricted: bool) -> bool:
    if day.month not in fields[3]:
        return False
    dom, dow = day.day in fields[2], (day.isoweekday() % 7) in fields[4]
    if dom_restricted and dow_restricted:
        return dom or dow  # cron's rule: either day field matches
    return dom and dow


def firings(cron: str, days: int = DAYS) -> list[datetime]:
    """Firing times over `days` days from START, as the schedule's wall clock shows them."""
    fields, dom_r, dow_r = parse(cron)
    times = sorted((h, m) for h in fields[1] for m in fields[0])
    out = []
    for n in range(days):
        day = START + timedelta(days=n)
        if _runs_on(day, fields, dom_r, dow_r):
            out += [datetime(day.year, day.month, day.day, h, m) for h, m in times]
    return out


def longest_gap(cron: str) -> timedelta:
    """The longest wall-clock time between two consecutive firings (over about a year of them; a DST change
    moves real time by an hour, as Dagster's own schedule iterator measures it too)."""
    fields, _, _ = parse(cron)
    days = 10 if len(fields[0]) * len(fields[1]) > 48 else DAYS  # many firings a day: the gap is within a day
    times = firings(cron, days)
    gaps = [b - a for a, b in zip(times, times[1:])]
    return max(gaps, default=timedelta(days=DAYS))
