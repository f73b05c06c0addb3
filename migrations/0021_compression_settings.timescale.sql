-- Compression settings chosen by measurement (timescale tier): no segmentby, ordered by time.
--
-- 0004 segmented compressed chunks by (category, event_name). With a few hundred event names of
-- very skewed popularity a day's chunk splits into thousands of segments, most of them far below
-- the 1,000 rows of a full compressed batch, and every short batch repeats per-batch overhead and
-- compresses the columns it holds (event ids, times, JSON, dimensions) poorly. Measured on the
-- embedded TimescaleDB, 100,000 realistic events over 6 days with their dimension columns
-- (`npm run bench -- --storage --size full`, part 6, which also tries the alternatives): 177
-- B/event compressed (77 % saved) with 0004's settings, 70 B/event (91 % saved) with these.
-- Ordering by time keeps each batch's min/max time tight, so time-range reads (rollup refreshes)
-- skip batches; a filter on event_name or category uses the bloom filters TimescaleDB (2.20 and
-- later) keeps per batch for indexed columns (docs/ARCHITECTURE.md, section 4).
--
-- For chunks compressed from now on. Since TimescaleDB 2.14 compression settings are kept per
-- chunk and may change while compressed chunks exist: chunks already compressed keep 0004's
-- settings and stay readable as they are (nothing is decompressed here, however big the table);
-- a chunk compressed later, by the policy or analytics_compress_chunks(), gets these. An old chunk
-- recompressed after a late event keeps its own settings on the embedded 2.23 (newer releases may
-- rewrite it with these; either reads the same), so old chunks keep 0004's until retention drops
-- them. TimescaleDB before 2.14 refuses the change while compressed chunks exist: there the
-- migration leaves 0004's settings and says so (a NOTICE) instead of failing the upgrade.
DO $$
BEGIN
  ALTER TABLE analytics_events_ts SET (
    timescaledb.compress_segmentby = '',
    timescaledb.compress_orderby = 'time DESC'
  );
EXCEPTION WHEN OTHERS THEN
  IF EXISTS (SELECT 1 FROM timescaledb_information.chunks WHERE hypertable_name = 'analytics_events_ts' AND is_compressed) THEN
    RAISE NOTICE 'compression settings unchanged (this TimescaleDB cannot change them while chunks are compressed): %', SQLERRM;
  ELSE
    RAISE;
  END IF;
END
$$;
