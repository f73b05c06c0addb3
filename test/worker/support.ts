import { env } from "cloudflare:test";

/** Stops or starts a server of the local stack (the control server of global-setup.ts). */
export async function control(action: "redis/stop" | "redis/start" | "postgres/stop" | "postgres/start"): Promise<void> {
  const response = await fetch(`${env.TEST_CONTROL_URL}/${action}`, { method: "POST" });
  if (!response.ok) throw new Error(`control ${action} failed: ${response.status} ${await response.text()}`);
}

export interface BridgeStats {
  redis: { requests: number; commands: number; errors: number };
  postgres: { requests: number; statements: number; errors: number } | null;
}

/** Round trips counted at the bridges since the last reset. */
export async function bridgeStats(): Promise<BridgeStats> {
  const response = await fetch(`${env.TEST_CONTROL_URL}/stats`);
  return (await response.json()) as BridgeStats;
}

export async function resetBridgeStats(): Promise<void> {
  await fetch(`${env.TEST_CONTROL_URL}/stats/reset`, { method: "POST" });
}
