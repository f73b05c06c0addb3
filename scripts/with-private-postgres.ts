/**
 * `tsx scripts/with-private-postgres.ts -- <command…>`: runs a command with TEST_PG_ADMIN_URL
 * pointing at a private PostgreSQL 15 that checks passwords (SCRAM-SHA-256), then stops it.
 * CI runs part of the suite this way: every test, the workerd tests' Neon bridge included, must
 * follow TEST_PG_ADMIN_URL and log in with its password (a trust-auth server hides both).
 */
import { spawn } from "node:child_process";
import { startPrivatePostgres } from "./lib/private-postgres";

const separator = process.argv.indexOf("--");
const command = separator >= 0 ? process.argv.slice(separator + 1) : [];
if (command.length === 0) {
  console.error("usage: tsx scripts/with-private-postgres.ts -- <command> [args…]");
  process.exit(2);
}
const server = await startPrivatePostgres({ user: "ci_owner" });
console.log(`[with-private-postgres] PostgreSQL 15 with SCRAM auth on 127.0.0.1:${server.port} as ${server.user}`);
const child = spawn(command[0]!, command.slice(1), { stdio: "inherit", env: { ...process.env, TEST_PG_ADMIN_URL: server.url } });
const code = await new Promise<number>((resolve) => child.once("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await server.stop();
process.exit(code);
