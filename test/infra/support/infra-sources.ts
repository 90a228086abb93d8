/** Reads infra sources for the wiring tests that check how `infra/*.ts` uses the manifest. */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "./sst-bundle.js";

export const infraDir = path.join(projectRoot, "infra");

/** `infra/x.ts` (relative path) -> source text, for every module in infra/. */
export function infraSources(): Map<string, string> {
  const sources = new Map<string, string>();
  for (const name of readdirSync(infraDir).sort()) {
    if (name.endsWith(".ts")) sources.set(`infra/${name}`, readFileSync(path.join(infraDir, name), "utf8"));
  }
  return sources;
}

export function readProjectFile(relative: string): string {
  return readFileSync(path.join(projectRoot, relative), "utf8");
}

/** Source without comments, so examples in doc comments are not mistaken for wiring. */
export function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

/**
 * The argument text of every call that starts with `opener` (e.g. "new sst.aws.Queue("), found by
 * matching parentheses. Good enough for our own sources, which keep strings free of parentheses.
 */
export function callArguments(source: string, opener: string): string[] {
  const calls: string[] = [];
  let from = 0;
  for (;;) {
    const start = source.indexOf(opener, from);
    if (start < 0) return calls;
    let depth = 1;
    let i = start + opener.length;
    for (; i < source.length && depth > 0; i++) {
      if (source[i] === "(") depth++;
      else if (source[i] === ")") depth--;
    }
    calls.push(source.slice(start + opener.length, i - 1));
    from = i;
  }
}

/** Relative module paths (`./x.js`) imported statically or dynamically by a source. */
export function importsOf(source: string): string[] {
  const found = new Set<string>();
  for (const match of source.matchAll(/(?:from\s+|import\s*\(\s*)["'](\.[^"']+)["']/g)) found.add(match[1]!);
  return [...found];
}
