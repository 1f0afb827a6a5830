"""The demo production database: a seeded, skewed, PII-rich shop generated server-side in SQL."""

from __future__ import annotations

import psycopg

DEMO_SEED = 0.42
DEFAULT_ROWS = 1_000_000

FIRST = ["Alice", "Bob", "Carla", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kira", "Liam",
         "Mona", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Xena",
         "Yusuf", "Zoe", "Amara", "Bruno", "Chloe", "Dmitri", "Elif", "Felix"]
LAST = ["Smith", "Garcia", "Müller", "Rossi", "Nguyen", "Kowalski", "Okafor", "Tanaka", "Silva", "Dubois",
        "Jensen", "O'Brien", "Novak", "Haddad", "Lindqvist", "Petrov", "Moreau", "Costa", "Kaur", "Fischer"]
CITIES = ["Berlin", "Lisbon", "Osaka", "Lagos", "Austin", "Lyon", "Krakow", "Porto", "Leeds", "Turin"]
STREETS = ["Main St", "Oak Ave", "Harbor Rd", "Elm St", "Station Rd", "Mill Lane", "King St", "Park Ave"]
CATEGORIES = ["books", "garden", "toys", "kitchen", "audio", "sports", "tools", "beauty", "games", "office"]


def _arr(values: list[str]) -> str:
    return "(ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "])"


def table_sizes(rows: int) -> dict[str, int]:
    """Rows per table for a total of about `rows` rows."""
    shares = {"customers": 0.05, "addresses": 0.06, "products": 0.005, "orders": 0.25,
              "order_items": 0.45, "payments": 0.15, "support_tickets": 0.035}
    return {t: max(10, int(rows * s)) for t, s in shares.items()}


SCHEMA_SQL = """
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded');
CREATE DOMAIN money_amount AS numeric(12,2) CHECK (VALUE >= 0);

CREATE TABLE customers (
    id bigserial PRIMARY KEY,
    email citext NOT NULL UNIQUE,
    first_name text NOT NULL,
    last_name text NOT NULL,
    phone text,
    birth_date date,
    signup_ip inet,
    tier text NOT NULL DEFAULT 'standard' CHECK (tier IN ('standard', 'silver', 'gold')),
    preferences jsonb,
    tags text[],
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz
);
CREATE INDEX customers_created_at_idx ON customers (created_at);
CREATE INDEX customers_last_name_idx ON customers (last_name);

CREATE TABLE addresses (
    id serial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    street text NOT NULL,
    city text NOT NULL,
    postcode varchar(10) NOT NULL,
    country char(2) NOT NULL DEFAULT 'DE'
);
CREATE INDEX addresses_customer_id_idx ON addresses (customer_id);

CREATE TABLE products (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku text NOT NULL UNIQUE,
    name text NOT NULL,
    category text NOT NULL,
    price money_amount NOT NULL,
    weight_kg real,
    attributes jsonb
);
CREATE INDEX products_category_idx ON products (category);

CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    shipping_address_id integer REFERENCES addresses (id),
    status order_status NOT NULL DEFAULT 'pending',
    total numeric(14,2) NOT NULL,
    ordered_at timestamptz NOT NULL,
    updated_at timestamptz
);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
CREATE INDEX orders_ordered_at_idx ON orders (ordered_at);
CREATE INDEX orders_status_idx ON orders (status) WHERE status IN ('pending', 'paid');

CREATE TABLE order_items (
    order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no smallint NOT NULL,
    product_id integer NOT NULL REFERENCES products (id),
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price numeric(12,2) NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_items_product_id_idx ON order_items (product_id);

CREATE TABLE payments (
    id bigint NOT NULL,
    order_id bigint NOT NULL REFERENCES orders (id),
    amount numeric(14,2) NOT NULL,
    method text NOT NULL,
    card_last4 char(4),
    paid_at timestamptz NOT NULL,
    PRIMARY KEY (id, paid_at)
) PARTITION BY RANGE (paid_at);
CREATE TABLE payments_2024 PARTITION OF payments FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE payments_2025 PARTITION OF payments FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE payments_2026 PARTITION OF payments FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX payments_order_id_idx ON payments (order_id);
CREATE SEQUENCE payments_id_seq OWNED BY payments.id;
ALTER TABLE payments ALTER COLUMN id SET DEFAULT nextval('payments_id_seq');

CREATE TABLE support_tickets (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    order_id bigint REFERENCES orders (id),
    subject text NOT NULL,
    body text,
    priority smallint NOT NULL DEFAULT 3,
    opened_at timestamptz NOT NULL
);
CREATE INDEX support_tickets_customer_id_idx ON support_tickets (customer_id);

CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER orders_touch_updated_at BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER customers_touch_updated_at BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE VIEW customer_order_summary AS
    SELECT c.id AS customer_id, c.tier, count(o.id) AS orders, coalesce(sum(o.total), 0) AS revenue
    FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
    GROUP BY c.id, c.tier;
CREATE MATERIALIZED VIEW daily_revenue AS
    SELECT date_trunc('day', ordered_at) AS day, count(*) AS orders, sum(total) AS revenue
    FROM orders GROUP BY 1;
"""


def _data_sql(n: dict[str, int]) -> str:
    first, last, cities, streets, cats = _arr(FIRST), _arr(LAST), _arr(CITIES), _arr(STREETS), _arr(CATEGORIES)
    return f"""
SET max_parallel_workers_per_gather = 0;
SELECT setseed({DEMO_SEED});
INSERT INTO customers (email, first_name, last_name, phone, birth_date, signup_ip, tier, preferences, tags,
                       created_at)
SELECT lower(f) || '.' || lower(replace(l, '''', '')) || g || '@' || (ARRAY['gmail.com','example.org',
         'mailbox.de','corp.io'])[1 + (g % 4)],
       f, l,
       CASE WHEN g % 9 = 0 THEN NULL ELSE '+49 30 ' || lpad((g * 7919 % 10000000)::text, 7, '0') END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE date '1950-01-01' + (random() * 20000)::int END,
       ('10.' || (g / 65536 % 256) || '.' || (g / 256 % 256) || '.' || (g % 256))::inet,
       (ARRAY['standard','standard','standard','silver','gold'])[1 + (random() * 4)::int],
       CASE WHEN g % 5 = 0 THEN NULL
            ELSE jsonb_build_object('newsletter', g % 2 = 0, 'lang', (ARRAY['de','en','pt'])[1 + g % 3],
                                    'contact', jsonb_build_object('email', lower(f) || g || '@gmail.com'))
       END,
       CASE WHEN g % 3 = 0 THEN ARRAY['vip', 'b2b'] WHEN g % 3 = 1 THEN ARRAY[]::text[] ELSE NULL END,
       timestamptz '2022-01-01' + random() * interval '1400 days'
FROM (SELECT g, {first}[1 + (random() * {len(FIRST) - 1})::int] AS f,
             {last}[1 + (random() * {len(LAST) - 1})::int] AS l
      FROM generate_series(1, {n['customers']}) g) s;

INSERT INTO addresses (customer_id, street, city, postcode, country)
SELECT 1 + (g - 1) % {n['customers']}, (1 + g % 180) || ' ' || {streets}[1 + g % {len(STREETS)}],
       {cities}[1 + (random() * {len(CITIES) - 1})::int], lpad((g * 37 % 99999)::text, 5, '0'),
       (ARRAY['DE','PT','JP','NG','US','FR'])[1 + g % 6]
FROM generate_series(1, {n['addresses']}) g;

INSERT INTO products (sku, name, category, price, weight_kg, attributes)
SELECT 'SKU-' || lpad(g::text, 7, '0'), 'Product ' || g, {cats}[1 + (random() * {len(CATEGORIES) - 1})::int],
       round(exp(3 + 0.9 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 2),
       CASE WHEN g % 11 = 0 THEN 'NaN'::real ELSE (random() * 20)::real END,
       jsonb_build_object('color', (ARRAY['red','blue','green','black'])[1 + g % 4], 'rating', g % 5)
FROM generate_series(1, {n['products']}) g;

INSERT INTO orders (customer_id, shipping_address_id, status, total, ordered_at)
SELECT 1 + floor({n['customers']} * power(random(), 3))::bigint,
       CASE WHEN random() < 0.1 THEN NULL ELSE 1 + (random() * ({n['addresses']} - 1))::int END,
       (ARRAY['pending','paid','shipped','delivered','delivered','delivered','cancelled','refunded']
        )[1 + (random() * 7)::int]::order_status,
       round(exp(4 + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 2),
       timestamptz '2024-01-01' + random() * interval '1000 days'
FROM generate_series(1, {n['orders']}) g;

INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price)
SELECT o, l, 1 + floor({n['products']} * power(random(), 2))::int, 1 + (random() * 4)::int,
       round((5 + random() * 200)::numeric, 2)
FROM (SELECT 1 + (g - 1) % {n['orders']} AS o, 1 + (g - 1) / {n['orders']} AS l
      FROM generate_series(1, {n['order_items']}) g) s;

INSERT INTO payments (id, order_id, amount, method, card_last4, paid_at)
SELECT nextval('payments_id_seq'), 1 + (g - 1) % {n['orders']}, round((10 + random() * 500)::numeric, 2),
       (ARRAY['card','card','paypal','invoice'])[1 + g % 4],
       CASE WHEN g % 4 IN (0, 1) THEN lpad((g * 31 % 10000)::text, 4, '0') END,
       timestamptz '2024-01-01' + random() * interval '1000 days'
FROM generate_series(1, {n['payments']}) g;

INSERT INTO support_tickets (customer_id, order_id, subject, body, priority, opened_at)
SELECT c.id, CASE WHEN g % 3 = 0 THEN NULL ELSE 1 + (g * 13) % {n['orders']} END,
       (ARRAY['Where is my order?','Refund request','Wrong item','Account locked'])[1 + g % 4],
       CASE g % 4
         WHEN 0 THEN 'Hi, please reach me at ' || c.email || ' or call ' || coalesce(c.phone, '+49 30 5550000')
                     || E'.\\nThanks,\\n' || c.first_name
         WHEN 1 THEN E'Order arrived damaged.\\tPhotos attached. Card 4111 1111 1111 1111 was charged twice.'
         WHEN 2 THEN 'Login from ' || host(c.signup_ip) || ' failed; my backup mail is ' || c.email
         ELSE NULL END,
       1 + g % 5, timestamptz '2024-01-01' + random() * interval '1000 days'
FROM generate_series(1, {n['support_tickets']}) g
JOIN customers c ON c.id = 1 + (g * 7) % {n['customers']};

SELECT setval('customers_id_seq', (SELECT max(id) FROM customers));
REFRESH MATERIALIZED VIEW daily_revenue;
ANALYZE;
"""


def is_seeded(dsn: str) -> int | None:
    """The row scale of an already seeded demo database, or None."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                           "WHERE datname = current_database()").fetchone()
    text = (row[0] or "") if row else ""
    return int(text.split("rows=")[1]) if text.startswith("prodlike demo rows=") else None


def seed(dsn: str, rows: int = DEFAULT_ROWS) -> dict[str, int]:
    """Create and fill the demo schema in dsn's database (which must be empty); returns rows per table."""
    sizes = table_sizes(rows)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
        with conn.transaction():
            conn.execute(SCHEMA_SQL)
            conn.execute(_data_sql(sizes))
        conn.execute(f"COMMENT ON DATABASE {conn.info.dbname} IS 'prodlike demo rows={rows}'")
        conn.execute("VACUUM ANALYZE")
    return sizes
