"""The demo shop's application traffic on production: its everyday queries called with values drawn from
production's own rows, so production's pg_stat_statements gives the query-time check a window to replay."""

from __future__ import annotations

import random
from collections.abc import Callable

import psycopg

PRELOAD = {"shared_preload_libraries": "pg_stat_statements"}  # production's server setting the check needs
CALLS = 5  # calls per query in the window (query_time.min_calls is 2 by default)
SAMPLE = 200  # values drawn per kind

_VALUES = {  # every n-th row, so a 1M-row shop draws its values without sorting a table
    "customers": "SELECT id FROM customers WHERE id %% 97 = 1 LIMIT %s",
    "emails": "SELECT email::text FROM customers WHERE id %% 89 = 3 LIMIT %s",
    "orders": "SELECT id FROM orders WHERE id %% 83 = 5 LIMIT %s",
    "categories": "SELECT DISTINCT category FROM products LIMIT %s",
}

Draw = Callable[[dict, random.Random], tuple]
QUERIES: list[tuple[str, Draw]] = [
    ("SELECT id, first_name, last_name FROM customers WHERE email = %s", lambda d, r: (r.choice(d["emails"]),)),
    ("SELECT id, status, total, ordered_at FROM orders WHERE customer_id = %s ORDER BY ordered_at DESC LIMIT 20",
     lambda d, r: (r.choice(d["customers"]),)),
    ("SELECT o.id, i.line_no, p.name, i.quantity, i.unit_price FROM orders o "
     "JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id WHERE o.id = %s",
     lambda d, r: (r.choice(d["orders"]),)),
    ("SELECT id, amount, method, paid_at FROM payments WHERE order_id = %s", lambda d, r: (r.choice(d["orders"]),)),
    ("SELECT id, subject, opened_at FROM support_tickets WHERE customer_id = %s ORDER BY opened_at DESC",
     lambda d, r: (r.choice(d["customers"]),)),
    ("SELECT street, city, postcode FROM addresses WHERE customer_id = %s", lambda d, r: (r.choice(d["customers"]),)),
    ("SELECT id, name, price FROM products WHERE category = %s ORDER BY price DESC LIMIT 25",
     lambda d, r: (r.choice(d["categories"]),)),
    ("SELECT tier, created_at FROM customers WHERE id = %s", lambda d, r: (r.choice(d["customers"]),)),
]


def enable_statistics(owner_dsn: str) -> None:
    """pg_stat_statements in production's database (the server preloads it: see PRELOAD)."""
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def run(owner_dsn: str, calls: int = CALLS, seed: int = 20) -> int:
    """`calls` passes over the queries; the number of queries run. Counters are never reset: each refresh's window
    is what production served since the previous refresh read them (a per-database reset would not move
    pg_stat_statements_info.stats_reset, and the check would read the restarted counters as evicted entries)."""
    rng = random.Random(seed)
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        data = {kind: [r[0] for r in conn.execute(q, (SAMPLE,)).fetchall()] for kind, q in _VALUES.items()}
        for _ in range(calls):
            for query, draw in QUERIES:
                conn.execute(query, draw(data, rng))
    return calls * len(QUERIES)
