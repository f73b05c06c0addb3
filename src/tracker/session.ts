import type { State } from "./storage";
import { uuidv7 } from "./uuidv7";

/**
 * The session id for an event at `now`: a new one when the last event is more than `timeout`
 * ms old, the current one otherwise (and its idle clock restarts). Kept in the shared state,
 * so a session spans the site's tabs and reloads, as users of web analytics expect.
 */
export function touchSession(state: State, now: number, timeout: number): string {
  const s = state.s;
  if (!s || now - s.t > timeout) state.s = { i: uuidv7(now), t: now };
  else s.t = now;
  return state.s!.i;
}
