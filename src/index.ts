import { createApp } from "./app";
import { runScheduled } from "./cron/schedule";
import { createServices } from "./services";

/** Composition root: the HTTP app and the Cron Trigger handler, wired to the real services. */
const app = createApp(createServices);

export default {
  fetch: app.fetch,
  async scheduled(controller, env, _ctx) {
    await runScheduled(controller.cron, env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;
