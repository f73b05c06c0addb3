/**
 * What text the stores can hold, and what a name may contain. Measured on the real servers
 * (PostgreSQL 15 and the embedded TimescaleDB, Redis 7's Lua `cjson`):
 *
 * - U+0000 (NUL): PostgreSQL `text` cannot hold it and `jsonb` refuses `\u0000` (SQLSTATE 22P05).
 * - A lone UTF-16 surrogate (U+D800–U+DFFF without its pair, e.g. from `.slice()` cutting an emoji):
 *   `JSON.stringify` writes it as `\ud800`, which PostgreSQL's JSON parser refuses (22P02) and Lua's
 *   `cjson.decode` refuses ("invalid unicode escape code").
 * Everything else a JavaScript string can hold (other controls, U+FFFE/U+FFFF, bidi and format
 * characters, astral characters) is stored and read back unchanged by both.
 */

/** A character PostgreSQL or the Redis script cannot store: NUL or a lone surrogate (`u` mode matches unpaired ones only). */
const UNSTORABLE = /[\u0000\ud800-\udfff]/u;
const UNSTORABLE_ALL = /[\u0000\ud800-\udfff]/gu;
/**
 * NUL or any surrogate, paired or not: without `u` the engine tests a one-byte (Latin-1) string,
 * most of what arrives, for NUL alone. A string it does not match holds nothing unstorable.
 */
const MAYBE_UNSTORABLE = /[\u0000\ud800-\udfff]/;

/**
 * Characters a name (`event_name`, `category`) may not contain: controls (Cc), format characters
 * (Cf: bidi overrides and isolates, zero-width space/joiners, BOM, soft hyphen), line and paragraph
 * separators, and lone surrogates. Names end up in dashboards, CSV exports, log lines and Redis
 * hash fields, where such characters hide, reorder or split what a reader sees.
 */
const UNPRINTABLE_IN_NAME = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\ud800-\udfff]/u;
const BLANK = /^\s*$/u;

/** The replacement for unstorable characters when a value is cleaned (what `toWellFormed` uses). */
export const REPLACEMENT_CHARACTER = "\ufffd";

/** `U+202E` for the first character of `text` (a code point, so a surrogate pair is one character). */
export function codePointLabel(text: string): string {
  return `U+${text.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The first unstorable character of `text` as `U+XXXX`, or null when the stores can hold it all. */
export function unstorableChar(text: string): string | null {
  if (!MAYBE_UNSTORABLE.test(text)) return null;
  const m = UNSTORABLE.exec(text);
  return m ? codePointLabel(m[0]) : null;
}

/**
 * `text` with every NUL and lone surrogate replaced by U+FFFD; the same string when there is none.
 * @example cleanText("caf\ud800") // → "caf\ufffd"
 */
export function cleanText(text: string): string {
  return MAYBE_UNSTORABLE.test(text) && UNSTORABLE.test(text) ? text.replace(UNSTORABLE_ALL, REPLACEMENT_CHARACTER) : text;
}

/**
 * Why `name` is not a printable name, or null when it is.
 * @example nameProblem("sign\u202eup") // → "contains U+202E (a control, format or separator character); names must be printable"
 */
export function nameProblem(name: string): string | null {
  if (BLANK.test(name)) return "must not be blank";
  const m = UNPRINTABLE_IN_NAME.exec(name);
  return m ? `contains ${codePointLabel(m[0])} (a control, format or separator character); names must be printable` : null;
}

/** `text` with unstorable and unprintable characters shown as `\u{…}`, safe for messages and logs. */
export function displayText(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\ud800-\udfff]/gu, (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`);
}
