/**
 * The dashboard served at `/` by the worker. Signs in with the read token (kept in sessionStorage
 * only), then renders the panels and refreshes them in place: live every 5 s, health every 30 s,
 * the rest on demand.
 */
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { Failure, explain, get, token } from "./api";
import { field, fill, h } from "./dom";
import { assetsPanel, breakdownsPanel, drilldownPanel, healthPanel, installPanel, livePanel, overviewPanel, type Panel } from "./panels";

const LIVE_EVERY_MS = 5_000;
const HEALTH_EVERY_MS = 30_000;

const main = document.getElementById("main")!;
const account = document.getElementById("account")!;
const nav = document.getElementById("panels-nav")!;
const timers: number[] = [];

function setupHelp(): HTMLElement {
  return h(
    "section",
    { class: "panel", id: "setup", "aria-labelledby": "setup-title" },
    h("h2", { id: "setup-title" }, "Set a read token first"),
    h("p", {}, "This deployment has no READ_TOKEN, so the read API (and this dashboard) is switched off. Set one, then reload this page:"),
    h("ul", {},
      h("li", {}, "Locally: ", h("code", {}, "READ_TOKEN=$(openssl rand -hex 24) npm run dev"), " (npm run dev sets dev-read-token-change-me when READ_TOKEN is unset)."),
      h("li", {}, "On Cloudflare: ", h("code", {}, "npx wrangler secret put READ_TOKEN"), ", then sign in here with the same value."),
    ),
  );
}

function signIn(message = ""): void {
  stop();
  nav.hidden = true;
  fill(account);
  const input = h("input", { type: "password", name: "read-token", autocomplete: "current-password", required: true, spellcheck: "false" });
  const status = h("p", { class: "panel-status error", role: "alert" }, message);
  const form = h(
    "form",
    // POST with no action: even if the script failed, a submit would never put the token in a URL.
    { class: "signin", method: "post", "aria-labelledby": "signin-title" },
    h("h2", { id: "signin-title" }, "Sign in"),
    h("p", {}, "Paste the read token (READ_TOKEN; npm run dev prints it). It stays in this tab's session storage until you sign out or close the tab, and is sent only to this worker in the Authorization header."),
    field("Read token", input),
    h("button", { type: "submit" }, "Sign in"),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "Checking…";
    try {
      await get("/realtime", { minutes: 1 }, input.value.trim());
      token.set(input.value.trim());
      start();
    } catch (error) {
      if (error instanceof Failure && error.code === "read_api_disabled") {
        fill(main, setupHelp());
        return;
      }
      // A store that is down does not make the token wrong: 503 means the token got past the check.
      if (error instanceof Failure && error.status === 503 && error.code === "storage_unavailable") {
        token.set(input.value.trim());
        start();
        return;
      }
      status.textContent = error instanceof Failure && error.status === 401 ? "That token was not accepted. Check READ_TOKEN and try again." : explain(error);
    }
  });
  fill(main, form);
  input.focus();
}

function stop(): void {
  while (timers.length) clearInterval(timers.pop());
}

function every(ms: number, panel: Panel): void {
  timers.push(
    window.setInterval(() => {
      if (!document.hidden) void panel.refresh();
    }, ms),
  );
}

function start(): void {
  stop();
  const live = livePanel();
  const drill = drilldownPanel();
  const overview = overviewPanel((names) => drill.setNames(names));
  const breakdowns = breakdownsPanel();
  const assets = assetsPanel();
  const health = healthPanel();
  const install = installPanel();
  const panels = [live, overview, drill, breakdowns, assets, health, install];
  fill(main, ...panels.map((p) => p.section));
  nav.hidden = false;
  fill(account, h("button", { type: "button", onclick: () => { token.clear(); signIn(); } }, "Sign out"));
  // Each panel's own answer decides; a 401 anywhere means the token is no longer valid.
  void Promise.all(panels.map((p) => p.refresh())).then(() => {
    document.body.dataset.ready = "true";
    if (main.querySelector(".panel-status.error") && /not accepted \(401\)/.test(main.textContent ?? "")) signIn("The read token is no longer accepted. Sign in again.");
  });
  every(LIVE_EVERY_MS, live);
  every(HEALTH_EVERY_MS, health);
}

if (document.body.dataset.readApi === "disabled") {
  nav.hidden = true;
  fill(main, setupHelp());
} else if (token.get()) {
  start();
} else {
  signIn();
}
