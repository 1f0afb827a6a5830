-- Every object kind prodlike replicates, in two refreshed schemas (public, app); fixed, small data.
CREATE EXTENSION citext SCHEMA public;
CREATE EXTENSION pg_trgm SCHEMA public;
CREATE EXTENSION btree_gist SCHEMA public;
CREATE EXTENSION vector SCHEMA public;
CREATE EXTENSION bloom SCHEMA public;
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'application objects';

CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE app.pair AS (a integer, b text);
CREATE TYPE app.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE DOMAIN app."PosInt" AS integer DEFAULT 1 NOT NULL CONSTRAINT positive CHECK (VALUE > 0);
CREATE DOMAIN app.code AS text CHECK (VALUE ~ '^[A-Z]{2}$');
CREATE COLLATION app.bytes (provider = libc, locale = 'C');
CREATE TEXT SEARCH CONFIGURATION app.simple_en (COPY = pg_catalog.english);

CREATE FUNCTION app.add_pair(app.pair) RETURNS integer LANGUAGE sql IMMUTABLE
    BEGIN ATOMIC SELECT ($1).a + length(($1).b); END;
CREATE FUNCTION app.sum_state(integer, integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2';
CREATE AGGREGATE app.total(integer) (SFUNC = app.sum_state, STYPE = integer, INITCOND = '0');
CREATE FUNCTION app.text_eq(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT lower($1) = lower($2)';
CREATE OPERATOR app.=~= (LEFTARG = text, RIGHTARG = text, FUNCTION = app.text_eq);

CREATE TABLE app.customer (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email public.citext NOT NULL UNIQUE,
    name text COLLATE app.bytes,
    mood app.mood DEFAULT 'ok',
    score app."PosInt",
    country app.code,
    note text DEFAULT 'public.secret' CHECK (note <> 'public.secret'),
    doc tsvector,
    referrer integer REFERENCES app.customer (id) ON DELETE SET NULL,
    total_x2 integer GENERATED ALWAYS AS (score * 2) STORED,
    id_plus integer GENERATED ALWAYS AS (id + 1) VIRTUAL,
    embedding public.vector(3)
) WITH (fillfactor = 90);
ALTER TABLE app.customer ALTER COLUMN name SET STORAGE EXTERNAL;
ALTER TABLE app.customer ALTER COLUMN name SET STATISTICS 500;
ALTER TABLE app.customer ALTER COLUMN country SET (n_distinct = -0.5);
COMMENT ON TABLE app.customer IS 'customers; see ''public.secret''';
COMMENT ON COLUMN app.customer.email IS 'login';

CREATE FUNCTION app.customers_named(text) RETURNS SETOF app.customer LANGUAGE sql STABLE
    AS 'SELECT * FROM app.customer WHERE name = $1';
CREATE PROCEDURE app.touch(integer) LANGUAGE sql AS 'UPDATE app.customer SET mood = ''happy'' WHERE id = $1';

CREATE SEQUENCE app.invoice_no START 1000 INCREMENT 10;
CREATE TABLE app.orders (
    id bigserial PRIMARY KEY,
    customer_id integer NOT NULL,
    invoice bigint DEFAULT nextval('app.invoice_no'::regclass),
    during tstzrange,
    amount numeric(10,2) CHECK (amount >= 0),
    span app.floatrange,
    CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES app.customer (id)
        DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT no_overlap EXCLUDE USING gist (customer_id WITH =, during WITH &&)
);
CREATE TABLE app.a (id integer PRIMARY KEY, b_id integer);
CREATE TABLE app.b (id integer PRIMARY KEY, a_id integer REFERENCES app.a (id));

CREATE TABLE app.events (id integer, at date NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE app.events_2025 PARTITION OF app.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
    PARTITION BY LIST (kind);
CREATE TABLE app.events_2025_a PARTITION OF app.events_2025 FOR VALUES IN ('a');
CREATE TABLE app.events_2025_rest PARTITION OF app.events_2025 DEFAULT;
CREATE TABLE app.events_other PARTITION OF app.events DEFAULT;
CREATE INDEX events_at ON app.events (at);
ALTER TABLE app.events ADD PRIMARY KEY (id, at, kind);

CREATE TABLE app.animal (id integer, name text);
CREATE TABLE app.dog (good boolean) INHERITS (app.animal);
CREATE UNLOGGED TABLE app.scratch (k text PRIMARY KEY, v jsonb);

CREATE INDEX customer_name_partial ON app.customer (name) WHERE mood <> 'sad';
CREATE INDEX customer_lower ON app.customer (lower(name::text) text_pattern_ops);
CREATE INDEX customer_inc ON app.customer (country) INCLUDE (score);
CREATE INDEX customer_trgm ON app.customer USING gin (name public.gin_trgm_ops);
CREATE INDEX customer_doc ON app.customer USING gin (doc);
CREATE INDEX customer_embedding ON app.customer USING hnsw (embedding public.vector_cosine_ops);
CREATE INDEX customer_bloom ON app.customer USING bloom (score, country) WITH (length = 64);
CREATE UNIQUE INDEX customer_lower_email ON app.customer (lower(email::text)) WHERE referrer IS NULL;
CREATE STATISTICS app.customer_stats (dependencies, ndistinct) ON mood, country FROM app.customer;

CREATE VIEW app.happy AS SELECT id, name, 'public.x'::text AS tag FROM app.customer WHERE mood = 'happy';
CREATE VIEW app.happy_names AS SELECT name, app.total(id) AS ids FROM app.happy GROUP BY name;
CREATE VIEW public.order_totals AS
    SELECT c.id, app.total(o.amount::integer) AS total FROM app.customer c JOIN app.orders o ON o.customer_id = c.id
    WHERE c.name OPERATOR(app.=~=) 'ann' GROUP BY c.id;
CREATE VIEW app.similar_names AS SELECT id, public.similarity(name, 'name 1') AS score FROM app.customer
    WHERE name OPERATOR(public.%) 'name 1';
CREATE MATERIALIZED VIEW app.mood_counts AS SELECT mood, count(*) AS n FROM app.customer GROUP BY mood;
CREATE UNIQUE INDEX mood_counts_mood ON app.mood_counts (mood);

CREATE FUNCTION app.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.note := coalesce(NEW.note, 'public.secret-ish'); RETURN NEW; END $$;
CREATE TRIGGER customer_stamp BEFORE INSERT ON app.customer FOR EACH ROW EXECUTE FUNCTION app.stamp();
CREATE TRIGGER customer_off BEFORE UPDATE ON app.customer FOR EACH ROW EXECUTE FUNCTION app.stamp();
ALTER TABLE app.customer DISABLE TRIGGER customer_off;
CREATE FUNCTION app.noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE CONSTRAINT TRIGGER orders_check AFTER INSERT ON app.orders DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION app.noop();
CREATE RULE scratch_no_delete AS ON DELETE TO app.scratch DO INSTEAD NOTHING;

ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.orders FORCE ROW LEVEL SECURITY;
CREATE POLICY orders_positive ON app.orders FOR SELECT USING (amount > 0);

CREATE TABLE public.tags (id serial PRIMARY KEY, label public.citext, customer_id integer REFERENCES app.customer);
CREATE INDEX tags_label ON public.tags (label);

ALTER TABLE app.customer DISABLE TRIGGER customer_stamp;
INSERT INTO app.customer (email, name, mood, score, country, note, doc, embedding)
SELECT 'user' || i || '@example.com', 'name ' || (i % 7), (ARRAY['sad','ok','happy'])[1 + i % 3]::app.mood, i,
       (ARRAY['FR','DE','US'])[1 + i % 3], 'n' || i, to_tsvector('simple', 'word ' || i),
       ('[' || i || ',1,' || (i % 5) || ']')::public.vector
FROM generate_series(1, 30) i;
ALTER TABLE app.customer ENABLE TRIGGER customer_stamp;
UPDATE app.customer SET referrer = id - 1 WHERE id > 1;
INSERT INTO app.orders (customer_id, during, amount, span)
SELECT 1 + i % 30, tstzrange('2025-01-01'::timestamptz + i * interval '1 day', '2025-01-01'::timestamptz + (i + 1) * interval '1 day'),
       i * 1.5, app.floatrange(0, i)
FROM generate_series(1, 40) i;
INSERT INTO app.a VALUES (1, 99), (2, NULL);
INSERT INTO app.b VALUES (1, 1);
ALTER TABLE app.a ADD CONSTRAINT a_b_fk FOREIGN KEY (b_id) REFERENCES app.b (id) NOT VALID;
INSERT INTO app.events SELECT i, date '2025-01-01' + i * 20, (ARRAY['a','b'])[1 + i % 2] FROM generate_series(1, 30) i;
INSERT INTO app.animal VALUES (1, 'cat'), (2, 'cow');
INSERT INTO app.dog VALUES (3, 'rex', true);
INSERT INTO app.scratch VALUES ('k', '{"a": 1}');
INSERT INTO public.tags (label, customer_id) VALUES ('VIP', 1), ('new', 2);
REFRESH MATERIALIZED VIEW app.mood_counts;
