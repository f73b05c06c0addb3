/**
 * How TypeScript and the Lua scripts agree on their arguments: by name, in one place. A script's
 * fixed KEYS and ARGV are declared once as an ordered list of named slots; the script opens with
 * one `local` per slot (generated from the list, with the slot's comment), and the caller builds
 * the arrays from an object keyed by the same names. Tables sent as JSON tuples get named indexes
 * the same way. Field names come from `redis-keys.ts` through `luaString`, never typed twice.
 */

/** One named argument: how the script reads it and what it means. */
export interface Slot {
  name: string;
  /** `number`: the local is `tonumber(…)`; `string`: the raw argument. */
  as: "number" | "string";
  doc: string;
}

/** A slot list, in the order the script receives it. */
export type Slots = readonly Slot[];
export type SlotName<S extends Slots> = S[number]["name"];

/** `local <name> = <table>[i] -- <doc>` for every slot, in order. */
export function luaLocals(table: "KEYS" | "ARGV", slots: Slots): string {
  return slots
    .map((slot, i) => {
      const read = `${table}[${i + 1}]`;
      return `local ${slot.name} = ${slot.as === "number" ? `tonumber(${read})` : read} -- ${slot.doc}`;
    })
    .join("\n");
}

/** The arguments in slot order, from an object keyed by slot name (Redis takes strings only). */
export function inSlotOrder<S extends Slots>(slots: S, values: Record<SlotName<S>, string>): string[] {
  return slots.map((slot) => values[slot.name as SlotName<S>]);
}

/** Named positions of a JSON tuple: `local <table> = { a = 1, b = 2 }`, so Lua reads `e[E.a]`. */
export function luaIndexes(table: string, names: readonly string[]): string {
  return `local ${table} = { ${names.map((name, i) => `${name} = ${i + 1}`).join(", ")} }`;
}

/** A JSON tuple in the order of `names`, from an object keyed by those names. */
export function tuple<N extends string, V>(names: readonly N[], values: Record<N, V>): V[] {
  return names.map((name) => values[name]);
}

/** A Lua string literal for a field name owned by TypeScript (redis-keys.ts). */
export function luaString(value: string): string {
  if (/['\\\n]/.test(value)) throw new Error(`not a plain field name: ${JSON.stringify(value)}`);
  return `'${value}'`;
}
