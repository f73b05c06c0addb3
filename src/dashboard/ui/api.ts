/** The read API as the dashboard calls it: same origin, bearer token, errors turned into words. */

const TOKEN_KEY = "analytics.readToken";

/** The read token lives in sessionStorage: gone when the tab closes, never in a URL or a cookie. */
export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class Failure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly store: string | null = null,
  ) {
    super(message);
  }
}

export type Params = Record<string, string | number | undefined>;

export function url(path: string, params: Params = {}): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") query.set(k, String(v));
  const q = query.toString();
  return `${path}${q ? `?${q}` : ""}`;
}

/** GET a read route. Rejects with a Failure whose message is meant for people. */
export async function get<T>(path: string, params: Params = {}, bearer = token.get()): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url(`/api/v1/analytics${path}`, params), {
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
      cache: "no-store",
    });
  } catch {
    throw new Failure(0, "network", "The worker did not answer. Is `npm run dev` (or the deployment) still running?");
  }
  if (response.ok) return (await response.json()) as T;
  let body: { error?: { code?: string; message?: string; details?: { store?: string } } } = {};
  try {
    body = await response.json();
  } catch {
    /* not JSON */
  }
  const code = body.error?.code ?? `http_${response.status}`;
  throw new Failure(response.status, code, body.error?.message ?? `The worker answered ${response.status}.`, body.error?.details?.store ?? null);
}

/** What a failure means for the person looking at the page. */
export function explain(error: unknown): string {
  if (!(error instanceof Failure)) return `Something went wrong in the page: ${String(error)}`;
  switch (error.code) {
    case "read_api_disabled":
      return "The read API is disabled on this deployment: no READ_TOKEN is configured.";
    case "missing_read_token":
    case "invalid_read_token":
      return "The read token was not accepted (401). Sign out and sign in with the current READ_TOKEN.";
    case "storage_unavailable":
      return error.store === "redis"
        ? "Redis is unreachable, so these figures cannot be read right now. They come back on their own once Redis answers (events are still stored in PostgreSQL meanwhile)."
        : error.store === "postgres"
          ? "PostgreSQL is unreachable, so these figures cannot be read right now. They come back on their own once it answers (new events wait in the Redis buffer meanwhile)."
          : `Storage is unavailable (503): ${error.message}`;
    case "service_misconfigured":
      return `The worker is misconfigured (503): ${error.message}`;
    case "invalid_parameter":
      return `The question was refused (400): ${error.message}`;
    case "network":
      return error.message;
    default:
      return `The worker answered ${error.status} (${error.code}): ${error.message}`;
  }
}
