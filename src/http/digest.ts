/**
 * SHA-256 and hex, web-standard only (no Workers-only API), so code that Node also runs — the
 * benchmarks' bench worker, the visitor key — can use them.
 */
const ENCODER = new TextEncoder();

/** SHA-256 of a UTF-8 string. */
export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", ENCODER.encode(text)));
}

/** Lower-case hex of the first `length` bytes. */
export function hex(bytes: Uint8Array, length = bytes.length): string {
  let out = "";
  for (let i = 0; i < length; i++) out += bytes[i]!.toString(16).padStart(2, "0");
  return out;
}
