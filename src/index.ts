import { createApp } from "./app";
import { runScheduled } from "./cron/schedule";
import { createServices } from "./services";

/** The Worker's entry: the HTTP app and the Cron Trigger handler, wired to the real services (src/services.ts). */
const app = createApp(createServices);

export default {
  fetch: app.fetch,
  async scheduled(controller, env, _ctx) {
    await runScheduled(controller.cron, env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;
