-- Turn off JIT compilation for this database's new sessions.
--
-- The read API's statements hide their raw-tail bounds (now(), the newest rollup bucket) from the
-- planner, which then estimates hundreds of thousands of raw rows where a few thousand are read;
-- past jit_above_cost PostgreSQL compiles the statement before running it. Measured on PostgreSQL
-- 15 with 3M events: a 7-day daily summary took 135 ms with JIT (66 ms of it compiling) and 51 ms
-- without; with 10M events compilation (inlining, optimisation) grew to about a second. Every
-- statement this project sends is short, so JIT never pays for itself here.
--
-- Needs ownership of the database (Neon's and Timescale's default roles have it); without it the
-- migration only leaves a NOTICE, and `SET jit = off` can be applied by an administrator instead.
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'could not turn JIT off for database % (not its owner): the read API may spend time compiling queries', current_database();
END
$$;
