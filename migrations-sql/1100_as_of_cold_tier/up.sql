-- As-of prices and the cold tier. Rows of asset_prices_historic that were archived and dropped are no longer in the
-- database, and an as-of answer older than them could be wrong: the true latest price may be in the archive. Such an
-- answer now says so: its price columns are NULL, and archived_from, archived_to and archive_ids name the ranges to
-- restore. financehub.cold_ranges is the one test of "archived, dropped and not all back"; candle and bucket reads
-- (Querying/ColdTier.cs) use it too.

-- The archived-and-dropped ranges of a table that the given [start, end) parts overlap and whose rows are not all
-- back. A range is back when every archive of it that was dropped has been restored since (financehub.archives
-- .restored_at, which a restore into the archive's own table sets) and the table still holds at least as many rows in
-- it as the largest of those archives (rows dropped again after a restore, by retention say, would be missed
-- otherwise: nothing tells the catalog).
-- Late rows, another asset's backfill or one restored archive of several do not make a range look back. The catalog
-- decides most ranges; counting (one statement, planned with the range's bounds) is paid only for a reached range
-- whose archives were all restored.
CREATE OR REPLACE FUNCTION financehub.cold_ranges(table_name text, time_column text, starts timestamptz[], ends timestamptz[])
RETURNS TABLE (range_start timestamptz, range_end timestamptz, archive_ids uuid[])
LANGUAGE plpgsql STABLE
AS
$fn$
#variable_conflict use_column
DECLARE
  lo timestamptz;
  hi timestamptz;
  reached record;
  short boolean;
BEGIN
  SELECT min(r.s), max(r.e) INTO lo, hi FROM unnest(starts, ends) AS r (s, e) WHERE r.s < r.e;
  IF lo IS NULL THEN
    RETURN;
  END IF;

  FOR reached IN
    SELECT a.range_start, a.range_end, array_agg(a.id ORDER BY a.created_at, a.id) AS ids, max(a.row_count) AS largest,
           bool_or(a.restored_at IS NULL OR a.dropped_at IS NULL OR a.restored_at < a.dropped_at) AS missing
    FROM financehub.archives a
    WHERE a.table_name = cold_ranges.table_name AND a.status = 'Dropped' AND a.range_start < hi AND a.range_end > lo
      AND EXISTS (SELECT FROM unnest(starts, ends) AS r (s, e) WHERE r.s < r.e AND a.range_start < r.e AND a.range_end > r.s)
    GROUP BY a.range_start, a.range_end
    ORDER BY a.range_start, a.range_end
  LOOP
    short := reached.missing;
    IF NOT short THEN
      EXECUTE format('SELECT count(*) < $3 FROM %1$I t WHERE t.%2$I >= $1 AND t.%2$I < $2', cold_ranges.table_name, time_column)
        INTO short USING reached.range_start, reached.range_end, reached.largest;
    END IF;
    IF short THEN
      range_start := reached.range_start;
      range_end := reached.range_end;
      archive_ids := reached.ids;
      RETURN NEXT;
    END IF;
  END LOOP;
END
$fn$;

-- The row type gains the cold-tier columns; the functions below build rows of all sixteen.
DO $fh$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'financehub.price_as_of'::regclass AND attname = 'archived_from' AND NOT attisdropped) THEN
    ALTER TYPE financehub.price_as_of
      ADD ATTRIBUTE archived_from timestamptz, ADD ATTRIBUTE archived_to timestamptz, ADD ATTRIBUTE archive_ids uuid[];
  END IF;
END
$fh$;

-- As 0800's (which says how they read), with the cold-tier check at the end.
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
  -- Whether any rows of the table were archived and dropped: then every answer is kept and returned at the end, after
  -- the cold-tier check (otherwise each is returned as it is found).
  checking boolean;
  found_rows financehub.price_as_of[];
  -- Requests still open: ordinal, symbol, instant, asset.
  o_ord bigint[]; o_sym text[]; o_at timestamptz[]; o_asset integer[];
  -- What a chunk's statement returns: the answers it found (a NULL array when none) and the requests still open.
  -- A row older than max_age counts as missing: its columns are NULL, and latest_date says when it was.
  answered CONSTANT text := $q$
      SELECT array_agg(ROW(r.o, r.s, r.t, r.a, p.date,
                           CASE WHEN f.fresh THEN p.date END, CASE WHEN f.fresh THEN p.open END, CASE WHEN f.fresh THEN p.high END,
                           CASE WHEN f.fresh THEN p.low END, CASE WHEN f.fresh THEN p.close END, CASE WHEN f.fresh THEN p.adjusted_close END,
                           CASE WHEN f.fresh THEN p.volume END, CASE WHEN f.fresh THEN p.trade_count END, NULL, NULL, NULL)::financehub.price_as_of)
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

  checking := EXISTS (SELECT FROM financehub.archives a WHERE a.table_name = 'asset_prices_historic' AND a.status = 'Dropped');

  -- Requests of known assets are open; unknown symbols are answered at once, asset_id NULL.
  SELECT coalesce(array_agg(r.ord) FILTER (WHERE a.id IS NOT NULL), '{}'), coalesce(array_agg(r.sym) FILTER (WHERE a.id IS NOT NULL), '{}'),
         coalesce(array_agg(r.at) FILTER (WHERE a.id IS NOT NULL), '{}'), coalesce(array_agg(a.id) FILTER (WHERE a.id IS NOT NULL), '{}'),
         array_agg(ROW(r.ord, r.sym, r.at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::financehub.price_as_of)
           FILTER (WHERE a.id IS NULL)
    INTO o_ord, o_sym, o_at, o_asset, answers
    FROM unnest(symbols, instants) WITH ORDINALITY AS r (sym, at, ord)
    LEFT JOIN assets a ON a.symbol = r.sym;
  IF checking THEN found_rows := found_rows || answers; ELSE RETURN QUERY SELECT * FROM unnest(answers); END IF;

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
      IF checking THEN found_rows := found_rows || answers; ELSE RETURN QUERY SELECT * FROM unnest(answers); END IF;
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
    IF checking THEN found_rows := found_rows || answers; ELSE RETURN QUERY SELECT * FROM unnest(answers); END IF;
  END LOOP;

  -- No row at or before the instant.
  answers := ARRAY(
    SELECT ROW(u.ord, u.sym, u.at, u.asset, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::financehub.price_as_of
    FROM unnest(o_ord, o_sym, o_at, o_asset) AS u (ord, sym, at, asset));
  IF NOT checking THEN
    RETURN QUERY SELECT * FROM unnest(answers);
    RETURN;
  END IF;
  found_rows := found_rows || answers;

  -- The cold tier: an answer is only as good as the rows between it and its instant. Where rows of
  -- (latest_date, instant] were archived and dropped and are not all back, the true latest price may be among them:
  -- the answer's price columns are NULL, and archived_from, archived_to and archive_ids name what to restore.
  RETURN QUERY
    WITH r AS MATERIALIZED (SELECT * FROM unnest(found_rows)),
    -- (latest_date, instant] as a half-open range of microseconds, [latest_date + 1 us, instant + 1 us); of the answers
    -- for one instant (a portfolio) only the oldest matters for which ranges are reached.
    cold AS MATERIALIZED (
      SELECT k.*
      FROM (SELECT array_agg(g.s) AS s, array_agg(g.e) AS e
            FROM (SELECT min(coalesce(r.latest_date + interval '1 microsecond', '-infinity')) AS s, r.requested_at + interval '1 microsecond' AS e
                  FROM r WHERE r.asset_id IS NOT NULL GROUP BY r.requested_at) g) q
      CROSS JOIN LATERAL financehub.cold_ranges('asset_prices_historic', 'date', q.s, q.e) k)
    SELECT r.ordinal, r.symbol, r.requested_at, r.asset_id, r.latest_date,
           CASE WHEN c.ids IS NULL THEN r.date END, CASE WHEN c.ids IS NULL THEN r.open END, CASE WHEN c.ids IS NULL THEN r.high END,
           CASE WHEN c.ids IS NULL THEN r.low END, CASE WHEN c.ids IS NULL THEN r.close END, CASE WHEN c.ids IS NULL THEN r.adjusted_close END,
           CASE WHEN c.ids IS NULL THEN r.volume END, CASE WHEN c.ids IS NULL THEN r.trade_count END,
           c.archived_from, c.archived_to, c.ids
    FROM r
    LEFT JOIN LATERAL (
      SELECT min(k.range_start) AS archived_from, max(k.range_end) AS archived_to, array_agg(u.id ORDER BY k.range_start, u.n) AS ids
      FROM cold k CROSS JOIN LATERAL unnest(k.archive_ids) WITH ORDINALITY AS u (id, n)
      WHERE r.asset_id IS NOT NULL AND k.range_start <= r.requested_at
        AND k.range_end > coalesce(r.latest_date + interval '1 microsecond', '-infinity')
      HAVING count(*) > 0) c ON true;
END
$fn$;

CREATE OR REPLACE FUNCTION financehub.prices_as_of(symbols text[], instant timestamptz, max_age interval DEFAULT NULL)
RETURNS SETOF financehub.price_as_of
LANGUAGE sql STABLE AS
$fn$
  SELECT * FROM financehub.prices_as_of_join(symbols, array_fill(instant, ARRAY[coalesce(cardinality(symbols), 0)]), max_age) p ORDER BY p.ordinal
$fn$;
