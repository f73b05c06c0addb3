import { chromium, type Browser, type BrowserContext, type Request } from "playwright-core";
import { inject } from "vitest";

/**
 * Headless Chromium for end-to-end tests: the OS's `chromium`, found (or installed when missing)
 * by the global setup, driven by playwright-core; no browser download. Override the binary with
 * CHROMIUM_PATH.
 */
export const CHROMIUM_PATH = inject("chromiumPath");

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  // Without these Chromium's own connections (updates, sync, …) are refused by a closed network.
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Test pages live on a public origin (https://shop.test, fulfilled by page.route) while the Worker
  // is on 127.0.0.1; Local Network Access would block that, which production never meets (both
  // are public there).
  "--disable-features=LocalNetworkAccessChecks",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

export interface SentEvent {
  event_id: string;
  event_name?: string;
  properties?: Record<string, unknown>;
}

/** One request the page made to the ingest endpoint, and what came of it. */
export interface IngestAttempt {
  method: string;
  /** HTTP status; 0 for a network failure or a request still pending. */
  status: number;
  failure?: string;
  /** `fetch`, `beacon`, `ping`, … as Chromium classifies it. */
  resourceType: string;
  /** The events in the body (POST only). */
  events: SentEvent[];
  /** Their `event_id`s. */
  eventIds: string[];
  retryAfter?: string;
  /** `error.code` of an error answer, when its body could be read. */
  errorCode?: string;
  /** `accepted` and `duplicates` of a 2xx answer, when its body could be read. */
  accepted?: number;
  duplicates?: number;
}

/**
 * Records every request a context makes to `urlPrefix` (the ingest endpoint), with its outcome.
 * Requests a page sends while it is being unloaded (keepalive fetch, beacons) are not reported by
 * Playwright: count what reached the server in the database instead.
 */
export function recordIngest(context: BrowserContext, urlPrefix: string) {
  const attempts: IngestAttempt[] = [];
  const byRequest = new Map<Request, IngestAttempt>();
  context.on("request", (request) => {
    if (!request.url().startsWith(urlPrefix)) return;
    let events: SentEvent[] = [];
    if (request.method() === "POST") {
      try {
        events = (JSON.parse(request.postData() ?? "{}") as { events?: SentEvent[] }).events ?? [];
      } catch {
        /* not JSON */
      }
    }
    const attempt: IngestAttempt = {
      method: request.method(),
      status: 0,
      resourceType: request.resourceType(),
      events,
      eventIds: events.map((e) => e.event_id),
    };
    attempts.push(attempt);
    byRequest.set(request, attempt);
  });
  context.on("response", (response) => {
    const attempt = byRequest.get(response.request());
    if (!attempt) return;
    attempt.status = response.status();
    attempt.retryAfter = response.headers()["retry-after"];
    if (attempt.method !== "POST") return;
    response.json().then(
      (body: { error?: { code?: string }; accepted?: number; duplicates?: number }) => {
        attempt.errorCode = body?.error?.code;
        attempt.accepted = body?.accepted;
        attempt.duplicates = body?.duplicates;
      },
      () => {},
    );
  });
  context.on("requestfailed", (request) => {
    const attempt = byRequest.get(request);
    if (attempt) attempt.failure = request.failure()?.errorText ?? "failed";
  });
  const posts = () => attempts.filter((a) => a.method === "POST");
  return {
    attempts,
    posts,
    /** POSTs answered with `status`. */
    withStatus: (status: number) => posts().filter((a) => a.status === status),
    /** POSTs that failed at the network level. */
    failed: () => posts().filter((a) => a.failure !== undefined),
    /** How many times each event id was sent. */
    sendsPerEvent(): Map<string, number> {
      const counts = new Map<string, number>();
      for (const a of posts()) for (const id of a.eventIds) counts.set(id, (counts.get(id) ?? 0) + 1);
      return counts;
    },
    summary(): string {
      const byOutcome = new Map<string, number>();
      for (const a of posts()) {
        const key = a.failure ? `failed(${a.failure})` : String(a.status);
        byOutcome.set(key, (byOutcome.get(key) ?? 0) + 1);
      }
      const sum = (f: (a: IngestAttempt) => number | undefined) => posts().reduce((n, a) => n + (f(a) ?? 0), 0);
      return (
        `${posts().length} POSTs seen [${[...byOutcome].map(([k, v]) => `${k}×${v}`).join(", ")}], ` +
        `${sum((a) => a.eventIds.length)} events in them, answered accepted ${sum((a) => a.accepted)} ` +
        `duplicates ${sum((a) => a.duplicates)}`
      );
    },
  };
}
