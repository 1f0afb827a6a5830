"""Leak checks: (a) anonymized values equal to their own input beyond chance; (b) production identifiers in staging."""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .results import CheckResult, Threshold, Verdict

CHECK = "leak"
SIGMAS = 4.0  # binomial slack above the chance rate before a share counts as a leak


def allowed_share(chance: float, present: int) -> float:
    """The highest share of unchanged values chance explains: the rate plus SIGMAS binomial deviations."""
    if present == 0:
        return 1.0
    binomial = chance + SIGMAS * math.sqrt(chance * (1 - chance) / present)
    if chance == 0:
        return binomial
    return max(binomial, (chance * present + SIGMAS * math.sqrt(chance * present) + 1) / present)  # small tables:
    # the Poisson bound, one chance hit more (1 of 13 birth dates on its own day is chance, not a leak)


def unchanged_check(table: str, column: str, transformer: str, chance: float, unchanged: int,
                    present: int) -> CheckResult:
    """Rows (non-NULL in production) whose anonymized value equals their own input, against the chance rate."""
    share = unchanged / present if present else 0.0
    limit = allowed_share(chance, present)
    verdict = Verdict.ERROR if unchanged and share > limit else Verdict.PASS
    explanation = (f"{table}.{column} ({transformer}): {unchanged:,} of {present:,} values equal their own "
                   f"production input ({share:.4%}; chance {chance:.4%}, error above {limit:.4%})")
    return CheckResult(CHECK, table, column, "unchanged_share", chance, share, share - chance,
                       Threshold(error=limit), verdict, explanation)


def free_text_check(table: str, column: str, transformer: str, leaked: int, present: int,
                    limit: Threshold | None = None) -> CheckResult:
    """Rows (non-NULL) of a free-text column whose staging text still holds a production name of the same row's
    name columns, or an e-mail or phone number of its production text, as a share judged by `limit`
    (thresholds.free_text_leaks; default: error at any row)."""
    limit = limit or Threshold(error=0.0)
    share = leaked / present if present else 0.0
    verdict = limit.judge(share) if leaked else Verdict.PASS
    levels = "; ".join(f"{name} above {level:.4%}" for name, level in (("warn", limit.warn), ("error", limit.error))
                       if level is not None) or "not judged"
    explanation = (f"{table}.{column} ({transformer}): {leaked:,} of {present:,} texts still hold a production "
                   f"name, e-mail or phone of their row ({share:.4%}; {levels}; thresholds.free_text_leaks)")
    return CheckResult(CHECK, table, column, "free_text_leaked_share", 0.0, share, share, limit, verdict,
                       explanation)


# Leak check (b): production values found anywhere in the staging column, by anti-join of keyed hashes.
OVERLAP = "overlap"


PROBE = "prodlike é 0"  # a non-ASCII probe: servers whose encodings differ hash it differently


@dataclass(frozen=True)
class HashKey:
    """One copy's keyed 64-bit hash of identifier values, computed by SQL on both servers: production in the COPY
    query, staging in the check's scan. Held in memory only (the stored hashes cannot be tested against guesses
    without it) and new for every copy. `fast` is PostgreSQL's hashtextextended over key || value with a random
    seed (about 20 ns a value), used when both servers hash a probe alike (same encoding and byte order);
    otherwise md5 over key || value in UTF-8 (about 400 ns a value). Neither is a MAC: the hashes are keyed
    fingerprints that live in staging's control schema only until the check has read them."""

    key: str  # 32 hex characters, prefixed to every value
    seed: int  # a signed 64-bit seed (hashtextextended)
    fast: bool = True

    def sql(self, text_expr: str, literal: bool = False) -> str:
        """The hash of one text value; key and seed as query parameters (%(key)s, %(seed)s) or as literals."""
        key, seed = (f"'{self.key}'", str(self.seed)) if literal else ("%(key)s::text", "%(seed)s::int8")
        if self.fast:
            return f'hashtextextended(({key} || {text_expr}) COLLATE "C", {seed})'
        return f"('x' || substr(md5(convert_to({key} || {text_expr}, 'UTF8')), 1, 16))::bit(64)::bigint"

    def params(self) -> dict:
        return {"key": self.key, "seed": self.seed}

    def probe(self, conn) -> int | None:
        """This server's fast hash of PROBE (None where hashtextextended is missing: before PostgreSQL 11)."""
        if conn.info.server_version < 110000:
            return None
        return conn.execute(f"SELECT {self.sql('%(probe)s::text')}", {**self.params(), "probe": PROBE}).fetchone()[0]


def hash_key(production=None, staging=None) -> HashKey:
    """A fresh random key and seed for one copy; fast when both servers (if given) hash the probe alike."""
    key = HashKey(secrets.token_hex(16), int.from_bytes(secrets.token_bytes(8), "big", signed=True))
    if production is None or staging is None:
        return key
    fast = key.probe(production)
    if fast is not None and fast == key.probe(staging):
        return key
    return HashKey(key.key, key.seed, fast=False)


def overlap_check(table: str, column: str, transformer: str, overlap: int, staged: int,
                  opaque: bool) -> CheckResult:
    """Staging values (distinct) equal to some production value of the same column. For opaque identifiers
    (email, hash) any is a leak; format-preserving ones (phone, ip, tokenize) permute within the input's own
    format space, where chance overlaps are expected, so they are reported and held to check (a)."""
    share = overlap / staged if staged else 0.0
    verdict = Verdict.ERROR if opaque and overlap else Verdict.PASS
    if opaque:
        explanation = (f"{table}.{column} ({transformer}): {overlap:,} of {staged:,} distinct staging values are "
                       f"production values of this column" + (" (a leak: none may be)" if overlap else ""))
    else:
        explanation = (f"{table}.{column} ({transformer}): {overlap:,} of {staged:,} distinct staging values are "
                       f"also production values; {transformer} permutes within the input's format space, so "
                       f"chance overlaps are expected (own-value check (a) applies)")
    return CheckResult(CHECK, table, column, OVERLAP, 0, share, share, Threshold(error=0 if opaque else None),
                       verdict, explanation)


def distinct_check(table: str, column: str, transformer: str, production: tuple[int, int],
                   staging: tuple[int, int]) -> CheckResult:
    """Distinct values over non-NULL values, production vs staging, of an injective identifier transform: unique
    inputs give unique outputs, so a lower distinct count in staging means outputs collided."""
    (p_distinct, p_present), (s_distinct, s_present) = production, staging
    p_ratio = p_distinct / p_present if p_present else 0.0
    s_ratio = s_distinct / s_present if s_present else 0.0
    divergence = abs(p_ratio - s_ratio)
    verdict = Verdict.ERROR if p_distinct != s_distinct else Verdict.PASS
    explanation = (f"{table}.{column} ({transformer}): {s_distinct:,} distinct of {s_present:,} in staging vs "
                   f"{p_distinct:,} of {p_present:,} in production (ratio {s_ratio:.4f} vs {p_ratio:.4f})"
                   + ("; an injective transform keeps distinct values distinct" if p_distinct != s_distinct else ""))
    return CheckResult(CHECK, table, column, "distinct_ratio", p_ratio, s_ratio, divergence, Threshold(error=0),
                       verdict, explanation)


PART_VALUES = 16_000_000  # hashes of one column per side held at once; larger columns are checked in parts
COLUMNS_AT_ONCE = 2  # columns checked at once, a connection each: staging hashes one while another is sorted here
# Peak memory, by construction: 3 x 8 bytes a value per column in flight (production's sorted hashes, staging's bytea
# and its conversion), times COLUMNS_AT_ONCE: about 770 MB at the limits, 480 MB for two columns of 10M values.


@dataclass
class Scan:
    """One identifier column of one staged leaf: production's hashes (their slot in prodlike.leak_hashes), the
    staged value as text in SQL, and the leaf's copy key."""

    relation: str
    column: str
    slot: int
    expr: str
    key: HashKey


def anti_join(connect: Callable, scans: list[Scan]) -> list[dict[str, int]]:
    """Per scan: distinct staged values that are production values, distinct and non-NULL staged values, and
    production's distinct values. Staging hashes its own stored values in one scan and sends them packed
    (string_agg of int8send: one bytea, no row per value); the sets are sorted and intersected here.
    COLUMNS_AT_ONCE scans run at a time, each thread on one connection from `connect()` for all its scans, so
    staging's scans overlap the sorting here. A column of more than PART_VALUES values is checked in parts by hash
    residue (one scan each), so memory stays bounded. Production's hashes are deleted afterwards, also when a
    check fails."""
    local, opened = threading.local(), []

    def check(scan: Scan) -> dict[str, int]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect()
            opened.append(conn)
            conn.execute("SET max_parallel_workers_per_gather = 0")  # columns run side by side already; parallel
        return _column_overlap(conn, scan.relation, scan.slot, scan.expr, scan.key)  # workers: every hash twice

    done = False
    try:
        with ThreadPoolExecutor(max(1, min(COLUMNS_AT_ONCE, len(scans))), thread_name_prefix="prodlike-leak") as pool:
            found = list(pool.map(check, scans))
        done = True
        return found
    finally:
        for conn in opened:
            conn.close()
        try:
            with connect() as conn:
                conn.execute("DELETE FROM prodlike.leak_hashes WHERE slot = ANY(%s)", ([int(s.slot) for s in scans],))
        except Exception:
            if done:  # a failed check's own error is the one to report; the next refresh truncates the table
                raise


def _column_overlap(conn, relation: str, slot: int, expr: str, key: HashKey) -> dict[str, int]:
    """anti_join() of one column."""
    production = production_hashes(conn, slot)
    parts = max(1, -(-len(production) // PART_VALUES))
    got = dict.fromkeys(("overlap", "distinct", "present", "production_distinct"), 0)
    for part in range(parts):
        theirs = distinct_sorted(production if parts == 1 else production[np.mod(production, parts) == part])
        staged = staged_hashes(conn, relation, expr, key, part, parts)
        got["present"] += int(staged.size)  # NULLs hash to NULL: not among them
        ours = distinct_sorted(staged)
        del staged
        got["overlap"] += common_count(ours, theirs)
        got["distinct"] += int(ours.size)
        got["production_distinct"] += int(theirs.size)
        del ours, theirs
    return got


def common_count(a: np.ndarray, b: np.ndarray, pieces: int = 8) -> int:
    """How many values two sorted arrays of distinct values share: a stable sort of the two joined is one merge of
    two runs (timsort), four times faster than np.intersect1d's full sort; done over `pieces` value ranges, so
    the joined copy is an eighth of both."""
    if not a.size or not b.size:
        return 0
    bounds = a[np.linspace(0, a.size, pieces + 1, dtype=np.int64)[1:-1]]
    cut_a = [0, *np.searchsorted(a, bounds).tolist(), a.size]
    cut_b = [0, *np.searchsorted(b, bounds).tolist(), b.size]
    common = 0
    for i in range(pieces):
        both = np.concatenate((a[cut_a[i]:cut_a[i + 1]], b[cut_b[i]:cut_b[i + 1]]))
        both.sort(kind="stable")
        common += int(np.count_nonzero(both[1:] == both[:-1]))
    return common


def production_hashes(conn, slot: int) -> np.ndarray:
    """Production's hashes of one column, as the copy stored them (a bytea of little-endian int64s per batch),
    in an array of its own (the fetched bytes are freed)."""
    blobs = conn.execute("SELECT hashes FROM prodlike.leak_hashes WHERE slot = %s", (int(slot),), binary=True)
    return np.frombuffer(b"".join(row[0] for row in blobs), "<i8").copy()


def staged_hashes(conn, relation: str, expr: str, key: HashKey, part: int = 0, parts: int = 1) -> np.ndarray:
    """Staging's hashes of one column's non-NULL values (those whose hash falls in `part` of `parts`), from one
    scan. In parts, OFFSET 0 keeps the subquery a scan of its own: the hash is computed once per
    row, not once per place the outer query names it (the filter, the aggregate)."""
    n = int(parts)
    if n == 1:  # the hash named once: no subquery needed
        sql = f"SELECT string_agg(int8send({key.sql(expr)}), ''::bytea) FROM {relation}"
    else:
        sql = (f"SELECT string_agg(int8send(h), ''::bytea) FROM (SELECT {key.sql(expr)} AS h FROM {relation} "
               f"OFFSET 0) s WHERE ((h %% {n}) + {n}) %% {n} = {int(part)}")  # np.mod's residue
    packed = conn.execute(sql, key.params(), binary=True).fetchone()[0]
    return np.frombuffer(packed, ">i8").astype(np.int64) if packed else np.empty(0, np.int64)


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: in place (np.sort then a neighbour comparison, far faster than np.unique
    here); the array itself when every value is distinct, as identifiers mostly are."""
    values.sort()
    if values.size < 2:
        return values
    new = np.empty(values.size, bool)
    new[0] = True
    np.not_equal(values[1:], values[:-1], out=new[1:])
    return values if new.all() else values[new]
