import { sha256 } from "./digest";

/** Digests of configured secrets, computed once per isolate (bounded by the secrets configured). */
const secretDigests = new Map<string, Promise<Uint8Array>>();

/**
 * Finds the configured secret equal to `candidate` (write keys, the read token). Compares SHA-256
 * digests with `crypto.subtle.timingSafeEqual` against every secret, so the response time says
 * nothing about a secret's content or length. Resolves to the matching secret's digest (usable as
 * a stable id that does not reveal the secret), or null.
 *
 * @example
 * const digest = await findSecret(c.req.header("x-write-key") ?? "", config.WRITE_KEYS);
 */
export async function findSecret(candidate: string, secrets: readonly string[]): Promise<Uint8Array | null> {
  const given = await sha256(candidate);
  let match: Uint8Array | null = null;
  for (const secret of secrets) {
    let digest = secretDigests.get(secret);
    if (!digest) {
      digest = sha256(secret);
      secretDigests.set(secret, digest);
    }
    const expected = await digest;
    if (crypto.subtle.timingSafeEqual(expected, given)) match = expected;
  }
  return match;
}
