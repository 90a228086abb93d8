/**
 * The one zod every Lambda bundles: `zod/mini` (tree-shakable, a fraction of classic zod's size and
 * import time), with English error messages switched on. Classic zod registers its English locale
 * on first use; mini registers none and would answer "Invalid input" where callers read sentences
 * such as "Too small: expected string to have >=1 characters". Every module under functions/
 * imports it from here as `import * as z`, so the locale is set before any schema parses.
 */
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

config(en());

// Import as a namespace (`import * as z from "./zod.js"`), never as zod's `z` object: esbuild can
// then keep only the functions a bundle calls, where the `z` object would keep all of zod/mini,
// every locale and the JSON Schema generator.
export * from "zod/mini";
