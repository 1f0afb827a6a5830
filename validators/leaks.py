"""Leak checks: (a) anonymized values equal to their own input beyond chance; (b) production identifiers in staging."""

from __future__ import annotations

import math
import secrets

from .results import CheckResult, Threshold, Verdict

CHECK = "leak"
SIGMAS = 4.0  # binomial slack above the chance rate before a share counts as a leak


def allowed_share(chance: float, present: int) -> float:
    """The highest share of unchanged values chance explains: the rate plus SIGMAS binomial deviations."""
    if present == 0:
        return 1.0
    return chance + SIGMAS * math.sqrt(chance * (1 - chance) / present)


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


# Leak check (b): production values found anywhere in the staging column, by anti-join of keyed hashes.
OPAQUE = frozenset({"email", "hash"})  # outputs drawn from 2^64 or more values: any overlap is a leak
FORMAT_PRESERVING = frozenset({"phone", "ip", "tokenize"})  # outputs share the input's own format space
OVERLAP = "overlap"
WORK_MEM = "256MB"  # the check's sorts and hash join stay in memory up to several million values


def hash_key() -> str:
    """A fresh random key for one copy's hashes: held in memory only, so the stored hashes cannot be reversed."""
    return secrets.token_hex(16)


def staging_hash_sql(text_expr: str, key_sql: str = "%(key)s") -> str:
    """The SQL twin of keyed_hashes for one value (the key as a query parameter, or a literal). Production
    computes it in the COPY query, staging in the check's scan: the same function on both servers."""
    return f"('x' || substr(md5(convert_to({key_sql} || {text_expr}, 'UTF8')), 1, 16))::bit(64)::bigint"


def overlap_check(table: str, column: str, transformer: str, overlap: int, staged: int) -> CheckResult:
    """Staging values (distinct) equal to some production value of the same column. For opaque identifiers
    (email, hash) any is a leak; format-preserving ones (phone, ip, tokenize) permute within the input's own
    format space, where chance overlaps are expected, so they are reported and held to check (a)."""
    share = overlap / staged if staged else 0.0
    opaque = transformer in OPAQUE
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


def anti_join(conn, relation: str, columns: dict[str, tuple[int, str]], key: str) -> dict[str, dict[str, int]]:
    """Per identifier column (slot of production's hashes, the value as text in SQL) of a staged leaf: distinct
    staged values that are production values (a parallel hash semi-join), distinct and non-NULL staged values
    (an in-memory sort), and production's distinct values. Never an `IN` inside an aggregate's FILTER: that is
    a subplan, which turns quadratic once statistics say production's hashes outgrow work_mem. Production's
    hashes are deleted afterwards."""
    found = {}
    with conn.transaction():
        conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        for name, (slot, expr) in columns.items():
            # clock_timestamp() (volatile) keeps the subquery a scan of its own: the hash is computed once per row,
            # not once per place the outer query names h (the join key, each aggregate)
            staged = f"(SELECT clock_timestamp() AS t_, {staging_hash_sql(expr)} AS h FROM {relation}) s"
            overlap = conn.execute(f"SELECT count(DISTINCT h) FROM {staged} WHERE h IN "
                                   f"(SELECT h FROM prodlike.leak_hashes WHERE slot = %(slot)s)",
                                   {"key": key, "slot": int(slot)}).fetchone()[0]
            distinct, present = conn.execute(f"SELECT count(DISTINCT h), count(h) FROM {staged}",
                                             {"key": key}).fetchone()
            produced = conn.execute("SELECT count(DISTINCT h) FROM prodlike.leak_hashes WHERE slot = %s",
                                    (int(slot),)).fetchone()[0]
            found[name] = {"overlap": overlap, "distinct": distinct, "present": present,
                           "production_distinct": produced}
        conn.execute("DELETE FROM prodlike.leak_hashes WHERE slot = ANY(%s)",
                     ([int(slot) for slot, _ in columns.values()],))
    return found
