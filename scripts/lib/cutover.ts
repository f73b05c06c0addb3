/**
 * Phase 4 of the migration, the read side: `get_popular_asset_types(...)`, the legacy RPC's name
 * and argument shape, answered by this system. Migrations never touch it (the new schema may share
 * a database with the legacy tables and function); this explicit step installs it, says what it
 * replaces, and can be reverted.
 *
 * Legacy shape (documented in the README): `get_popular_asset_types(days_back integer DEFAULT 7,
 * limit_count integer DEFAULT 10) RETURNS TABLE (asset_type text, generation_count bigint,
 * unique_creators bigint)`: the last `days_back` UTC days, today included, most generated first.
 * When the legacy function has two integer parameters their names are kept, so RPC callers that
 * pass named arguments (Supabase/PostgREST) keep working. The answer is the read API's
 * `GET /api/v1/analytics/popular-asset-types` (the same statement, installed as
 * `analytics_popular_asset_types_api`).
 */
import pg from "pg";
import { popularAssetTypesWithOpenDay } from "../../src/read/popular-asset-types";

export const COMPAT_MARKER = "edge-analytics-worker compat";
const LEGACY_SUFFIX = "_legacy";
const NAME = "get_popular_asset_types";
const API_FUNCTION = "analytics_popular_asset_types_api";

interface FunctionRow {
  oid: string;
  schema: string;
  name: string;
  args: string;
  arg_names: string[] | null;
  arg_types: string[];
  comment: string | null;
}

async function functionsNamed(client: pg.ClientBase, name: string): Promise<FunctionRow[]> {
  const { rows } = await client.query<FunctionRow>(
    `SELECT p.oid::text, n.nspname AS schema, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS args,
       p.proargnames AS arg_names, ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t) AS arg_types,
       obj_description(p.oid, 'pg_proc') AS comment
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE p.proname = $1 AND n.nspname = current_schema()`,
    [name],
  );
  return rows;
}

const qualified = (f: FunctionRow) => `${pg.Client.prototype.escapeIdentifier(f.schema)}.${pg.Client.prototype.escapeIdentifier(f.name)}(${f.args})`;

export interface CutoverResult {
  /** What the step did, one sentence per change. */
  actions: string[];
}

/** Installs the compatible function (renaming a legacy one to `…_legacy`), in one transaction. */
export async function installCompat(databaseUrl: string): Promise<CutoverResult> {
  const client = new pg.Client(databaseUrl);
  await client.connect();
  const actions: string[] = [];
  try {
    await client.query("BEGIN");
    const existing = await functionsNamed(client, NAME);
    if (existing.some((f) => f.comment?.startsWith(COMPAT_MARKER))) {
      await client.query("ROLLBACK");
      return { actions: [`${NAME} is already the compatible function; nothing to do (revert with \`npm run cutover -- revert-compat\`)`] };
    }
    if ((await functionsNamed(client, NAME + LEGACY_SUFFIX)).length > 0) {
      throw new Error(`${NAME}${LEGACY_SUFFIX} already exists: a previous cutover was half reverted; inspect it before installing again`);
    }
    let names = ["days_back", "limit_count"];
    for (const f of existing) {
      if (f.arg_types.length === 2 && f.arg_types.every((t) => t === "integer") && f.arg_names?.length === 2 && f.arg_names.every(Boolean)) names = f.arg_names;
      await client.query(`ALTER FUNCTION ${qualified(f)} RENAME TO ${NAME}${LEGACY_SUFFIX}`);
      actions.push(`renamed the legacy ${NAME}(${f.args}) to ${NAME}${LEGACY_SUFFIX}(${f.args}) (kept for revert-compat)`);
    }
    const api = popularAssetTypesWithOpenDay(new Date(0), new Date(0), 0).text;
    await client.query(`CREATE FUNCTION ${API_FUNCTION}(timestamptz, timestamptz, integer)
RETURNS TABLE (clean boolean, asset_type text, generation_count bigint, unique_creators bigint, imported boolean)
LANGUAGE sql STABLE AS $api$ ${api} $api$`);
    const [days, limit] = names.map((n) => pg.Client.prototype.escapeIdentifier(n!));
    await client.query(`CREATE FUNCTION ${NAME}(${days} integer DEFAULT 7, ${limit} integer DEFAULT 10)
RETURNS TABLE (asset_type text, generation_count bigint, unique_creators bigint)
LANGUAGE sql STABLE AS $fn$
  SELECT p.asset_type, p.generation_count, p.unique_creators
  FROM ${API_FUNCTION}(
    date_bin('1 day', now(), TIMESTAMPTZ '2000-01-01 00:00:00+00') - make_interval(days => greatest($1, 1) - 1),
    date_bin('1 day', now(), TIMESTAMPTZ '2000-01-01 00:00:00+00') + INTERVAL '1 day', $2) p
  WHERE p.asset_type IS NOT NULL
  ORDER BY p.generation_count DESC, p.asset_type COLLATE "C"
$fn$`);
    const replaced = existing.length > 0 ? `replaces ${existing.map((f) => `${NAME}(${f.args})`).join(", ")}, renamed to ${NAME}${LEGACY_SUFFIX}` : "no legacy function existed";
    await client.query(`COMMENT ON FUNCTION ${NAME}(integer, integer) IS ${pg.Client.prototype.escapeLiteral(`${COMPAT_MARKER}: answers like GET /api/v1/analytics/popular-asset-types; ${replaced}. Revert: npm run cutover -- revert-compat`)}`);
    actions.push(`installed ${NAME}(${names[0]} integer DEFAULT 7, ${names[1]} integer DEFAULT 10), answered from this system's rollups, raw rows and imported history`);
    await client.query("COMMIT");
    return { actions };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

/** Drops the compatible function and gives the legacy one its name back, in one transaction. */
export async function revertCompat(databaseUrl: string): Promise<CutoverResult> {
  const client = new pg.Client(databaseUrl);
  await client.connect();
  const actions: string[] = [];
  try {
    await client.query("BEGIN");
    for (const f of await functionsNamed(client, NAME)) {
      if (!f.comment?.startsWith(COMPAT_MARKER)) {
        throw new Error(`${NAME}(${f.args}) was not installed by install-compat (no "${COMPAT_MARKER}" comment); leaving everything as it is`);
      }
      await client.query(`DROP FUNCTION ${qualified(f)}`);
      actions.push(`dropped the compatible ${NAME}(${f.args})`);
    }
    await client.query(`DROP FUNCTION IF EXISTS ${API_FUNCTION}(timestamptz, timestamptz, integer)`);
    for (const f of await functionsNamed(client, NAME + LEGACY_SUFFIX)) {
      await client.query(`ALTER FUNCTION ${qualified(f)} RENAME TO ${NAME}`);
      actions.push(`renamed ${NAME}${LEGACY_SUFFIX}(${f.args}) back to ${NAME}`);
    }
    if (actions.length === 0) actions.push("nothing to revert: the compatible function is not installed");
    await client.query("COMMIT");
    return { actions };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}
