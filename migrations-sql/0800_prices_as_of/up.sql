-- As-of prices: the latest price at or before each requested instant, per asset, reading a few rows per asset, never
-- a scan of the table.
--
-- prices_as_of_join zips its arrays (symbols[i] as of instants[i]: an as-of join) and returns rows in no particular
-- order (ordinal is i); prices_as_of asks every symbol as of one instant, in the order given. A row older than max_age
-- counts as missing: its columns are NULL and latest_date says when it was. Unknown symbols give a row with asset_id
-- NULL. Both editions (nothing here is community-only).
--
-- How: the chunks are walked newest first. In each, the requests still open whose instant is not before the chunk's
-- start are answered:
--   - many assets as of one instant (a portfolio): from the chunk's last N rows before the instant (N open requests),
--     one range scan, when the assets trade about as often as each other;
--   - the others: one probe of the (asset_id, date) key each, ORDER BY date DESC LIMIT 1, LATERAL.
-- Answered requests leave; the rest go on to the next chunk. Statements read the chunk itself (TimescaleDB decompresses
-- a compressed chunk read directly). Measured on 13 chunks, this is what makes it fast: one LATERAL probe through the
-- hypertable pays TimescaleDB's run-time chunk exclusion on every loop (about 20 us, against 6 us for the probe), and
-- a statement over the hypertable, even with a chunk's bounds as constants, took 9 ms to plan. PostgreSQL already
-- turns the naive "date = (SELECT max(date) ...)" per asset into the first kind of probe.
-- The time index (date DESC) orders rows like the key does, and on chunks not yet vacuumed PostgreSQL's costs prefer
-- walking it and filtering by asset: cheap for an asset that trades every minute, a walk through every other asset's
-- rows for one that stopped trading (199,325 rows instead of 1, measured). Index tuples are therefore costed higher
-- inside the function (SET cpu_index_tuple_cost), which makes a walk cost what it does and leaves the key probe.

-- One answer; the row type of both functions.
DO $fh$
BEGIN
  CREATE TYPE financehub.price_as_of AS (
    ordinal bigint, symbol text, requested_at timestamptz, asset_id integer, latest_date timestamptz,
    date timestamptz, open numeric, high numeric, low numeric, close numeric, adjusted_close numeric,
    volume numeric, trade_count integer);
EXCEPTION WHEN duplicate_object THEN NULL;
END
$fh$;

CREATE OR REPLACE FUNCTION financehub.prices_as_of_join(symbols text[], instants timestamptz[], max_age interval DEFAULT NULL)
RETURNS SETOF financehub.price_as_of
LANGUAGE plpgsql STABLE
SET cpu_index_tuple_cost = 1
AS
$fn$
#variable_conflict use_column
DECLARE
  chunk record;
  window_start timestamptz;
  answers financehub.price_as_of[];
  -- Requests still open: ordinal, symbol, instant, asset.
  o_ord bigint[]; o_sym text[]; o_at timestamptz[]; o_asset integer[];
  -- What a chunk's statement returns: the answers it found (a NULL array when none) and the requests still open.
  -- A row older than max_age counts as missing: its columns are NULL, and latest_date says when it was.
  answered CONSTANT text := $q$
      SELECT array_agg(ROW(r.o, r.s, r.t, r.a, p.date,
                           CASE WHEN f.fresh THEN p.date END, CASE WHEN f.fresh THEN p.open END, CASE WHEN f.fresh THEN p.high END,
                           CASE WHEN f.fresh THEN p.low END, CASE WHEN f.fresh THEN p.close END, CASE WHEN f.fresh THEN p.adjusted_close END,
                           CASE WHEN f.fresh THEN p.volume END, CASE WHEN f.fresh THEN p.trade_count END)::financehub.price_as_of)
               FILTER (WHERE p.date IS NOT NULL),
             coalesce(array_agg(r.o) FILTER (WHERE p.date IS NULL), '{}'), coalesce(array_agg(r.s) FILTER (WHERE p.date IS NULL), '{}'),
             coalesce(array_agg(r.t) FILTER (WHERE p.date IS NULL), '{}'), coalesce(array_agg(r.a) FILTER (WHERE p.date IS NULL), '{}')
      FROM unnest($1, $2, $3, $4) AS r (o, s, t, a)
      $q$;
  -- Ages are compared in seconds: an interval of days subtracted from a time would follow the session's calendar and
  -- make a day 23 or 25 hours long across a clock change.
  fresh CONSTANT text :=
    ' CROSS JOIN LATERAL (SELECT $5::interval IS NULL OR extract(epoch FROM r.t - p.date) <= extract(epoch FROM $5::interval) AS fresh) f';
BEGIN
  IF symbols IS NULL OR instants IS NULL OR cardinality(symbols) <> cardinality(instants) THEN
    RAISE EXCEPTION 'prices_as_of_join needs two arrays of the same length (symbols[i] as of instants[i]); got % symbols and % instants',
      coalesce(cardinality(symbols)::text, 'NULL'), coalesce(cardinality(instants)::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF array_position(instants, NULL) IS NOT NULL OR array_position(symbols, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'prices_as_of_join: request % has no %', coalesce(array_position(symbols, NULL), array_position(instants, NULL)),
      CASE WHEN array_position(symbols, NULL) IS NOT NULL THEN 'symbol' ELSE 'instant' END USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_age < interval '0' THEN
    RAISE EXCEPTION 'prices_as_of: the staleness limit (%) must not be negative', max_age USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- Requests of known assets are open; unknown symbols are answered at once, asset_id NULL.
  SELECT coalesce(array_agg(r.ord) FILTER (WHERE a.id IS NOT NULL), '{}'), coalesce(array_agg(r.sym) FILTER (WHERE a.id IS NOT NULL), '{}'),
         coalesce(array_agg(r.at) FILTER (WHERE a.id IS NOT NULL), '{}'), coalesce(array_agg(a.id) FILTER (WHERE a.id IS NOT NULL), '{}'),
         array_agg(ROW(r.ord, r.sym, r.at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::financehub.price_as_of)
           FILTER (WHERE a.id IS NULL)
    INTO o_ord, o_sym, o_at, o_asset, answers
    FROM unnest(symbols, instants) WITH ORDINALITY AS r (sym, at, ord)
    LEFT JOIN assets a ON a.symbol = r.sym;
  RETURN QUERY SELECT * FROM unnest(answers);

  FOR chunk IN
    SELECT format('%I.%I', c.chunk_schema, c.chunk_name) AS relation, c.range_start
    FROM timescaledb_information.chunks c
    JOIN pg_class t ON t.oid = 'asset_prices_historic'::regclass
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE c.hypertable_schema = n.nspname AND c.hypertable_name = t.relname
    ORDER BY c.range_end DESC
  LOOP
    EXIT WHEN cardinality(o_ord) = 0;
    CONTINUE WHEN NOT EXISTS (SELECT FROM unnest(o_at) t WHERE t >= chunk.range_start);

    -- Many assets as of one instant (a portfolio): when they trade about as often as each other, the latest row of
    -- each is among the chunk's last rows before the instant. One range scan of the last N rows (N the number of open
    -- requests; the window's start is read by walking N entries of the time index) answers them all; the assets not
    -- in that window are probed below.
    IF cardinality(o_ord) >= 16 AND (SELECT count(DISTINCT t) FROM unnest(o_at) t) = 1 AND o_at[1] >= chunk.range_start THEN
      EXECUTE format('SELECT h.date FROM %s h WHERE h.date <= $1 ORDER BY h.date DESC OFFSET $2 LIMIT 1', chunk.relation)
        INTO window_start USING o_at[1], cardinality(o_ord) - 1;
      EXECUTE answered || format(
        $q$
        LEFT JOIN (
          SELECT DISTINCT ON (h.asset_id) h.asset_id, h.date, h.open, h.high, h.low, h.close, h.adjusted_close, h.volume, h.trade_count
          FROM %1$s h
          WHERE h.date <= $6 AND h.date >= $7
          ORDER BY h.asset_id, h.date DESC) p ON p.asset_id = r.a
        $q$, chunk.relation) || fresh
        INTO answers, o_ord, o_sym, o_at, o_asset
        USING o_ord, o_sym, o_at, o_asset, max_age, o_at[1], coalesce(window_start, chunk.range_start);
      RETURN QUERY SELECT * FROM unnest(answers);
      CONTINUE WHEN cardinality(o_ord) = 0;
    END IF;

    -- Each open request whose instant is not before the chunk: one probe of the (asset_id, date) key.
    EXECUTE answered || format(
      $q$
      LEFT JOIN LATERAL (
        SELECT h.date, h.open, h.high, h.low, h.close, h.adjusted_close, h.volume, h.trade_count
        FROM %1$s h
        WHERE r.t >= %2$L::timestamptz AND h.asset_id = r.a AND h.date <= r.t
        ORDER BY h.date DESC
        LIMIT 1) p ON true
      $q$, chunk.relation, chunk.range_start) || fresh
      INTO answers, o_ord, o_sym, o_at, o_asset
      USING o_ord, o_sym, o_at, o_asset, max_age;
    RETURN QUERY SELECT * FROM unnest(answers);
  END LOOP;

  -- No row at or before the instant.
  RETURN QUERY
    SELECT u.ord, u.sym, u.at, u.asset, NULL::timestamptz, NULL::timestamptz, NULL::numeric, NULL::numeric, NULL::numeric,
           NULL::numeric, NULL::numeric, NULL::numeric, NULL::integer
    FROM unnest(o_ord, o_sym, o_at, o_asset) AS u (ord, sym, at, asset);
END
$fn$;

CREATE OR REPLACE FUNCTION financehub.prices_as_of(symbols text[], instant timestamptz, max_age interval DEFAULT NULL)
RETURNS SETOF financehub.price_as_of
LANGUAGE sql STABLE AS
$fn$
  SELECT * FROM financehub.prices_as_of_join(symbols, array_fill(instant, ARRAY[coalesce(cardinality(symbols), 0)]), max_age) p ORDER BY p.ordinal
$fn$;
