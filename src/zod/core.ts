import en from "zod/v4/locales/en.js";

/** zod's core (`z.core`) with English as its only locale; see ./classic.ts for why. */
export * from "zod/v4/core";
/** zod's `locales`, English only: `z.config(z.locales.en())` still works, other languages are not bundled. */
export const locales = Object.freeze({ en });
