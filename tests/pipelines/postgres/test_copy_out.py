"""CopyOut: COPY TO STDOUT through libpq directly gives what psycopg's Copy gives, and psycopg's errors."""

from __future__ import annotations

import psycopg
import pytest

from prodlike.pipelines.postgres.copy_out import CopyOut

ROWS = "SELECT g, repeat('x', g % 7) || E'\\t\\\\' FROM generate_series(1, 5000) g"


@pytest.mark.parametrize("fmt", ["text", "binary"])
def test_rows_match_psycopg_and_the_connection_stays_usable(dbs, fmt):
    sql = f"COPY ({ROWS}) TO STDOUT (FORMAT {fmt})"
    with dbs.src() as conn:
        with conn.cursor().copy(sql) as copy:
            expected = b"".join(bytes(chunk) for chunk in copy)
        out = CopyOut(conn, sql)
        assert b"".join(bytes(chunk) for chunk in out) == expected
        assert out.rowcount == 5000
        assert conn.execute("SELECT 42").fetchone() == (42,)  # no result left behind


def test_an_error_before_the_first_row_is_psycopgs_own(dbs):
    with dbs.src() as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            list(CopyOut(conn, "COPY (SELECT * FROM no_such_table) TO STDOUT"))
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_an_error_in_the_middle_of_the_stream_is_raised_not_truncated(dbs):
    with dbs.src() as conn:
        got = []
        with pytest.raises(psycopg.errors.DivisionByZero):
            for chunk in CopyOut(conn, "COPY (SELECT 1 / (4000 - g) FROM generate_series(1, 5000) g) TO STDOUT"):
                got.append(chunk)
        assert 0 < len(got) < 4000  # rows came before the error; the copy did not end quietly short
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)
