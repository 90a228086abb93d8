/**
 * `npm run lint`'s layering check (Biome cannot express it): which part of the tree may import
 * which, as docs/design names the layers. The Lambdas' core stays pure (it imports only core),
 * handlers reach adapters only through their function's wiring, and no Lambda code imports the
 * embedded home, the infra or the tests. Prints each forbidden import and exits 1.
 *
 *   node scripts/check-layers.mjs            # the tree
 *   checkLayers([{ path, text }])            # files given (test/unit/lint.test.ts)
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DATA = ["automations.json", "promotions.json", "stages.json"];

/** What each part may import (paths from the project root, with `/`); the first rule whose `from` matches applies. */
export const LAYERS = [
  {
    from: "functions/core/",
    may: ["functions/core/"],
    why: "core is pure: it depends on ports, never on an adapter, handler, home or infra",
  },
  {
    from: "functions/adapters/",
    may: ["functions/core/", "functions/adapters/", "functions/config.ts"],
    why: "an adapter implements a port; it knows no handler, wiring or home",
  },
  {
    from: "functions/console/",
    may: ["functions/core/", "functions/console/", "functions/handler-deps.ts"],
    why: "the console renders its pages and routes its requests over core and the ports its deps name; it knows no adapter, wiring or API Gateway shape",
  },
  {
    from: "functions/handlers/",
    may: [
      "functions/core/",
      "functions/handlers/",
      "functions/console/",
      "functions/handler-deps.ts",
      "functions/wiring/",
      "promotions.json",
    ],
    why: "a handler reaches adapters only through its function's wiring (functions/wiring/), which composes them",
  },
  {
    from: "functions/wiring/",
    may: [
      "functions/core/",
      "functions/adapters/",
      "functions/wiring/",
      "functions/config.ts",
      "functions/composition.ts",
      "functions/handler-deps.ts",
      ...DATA,
    ],
    why: "the AWS wiring composes adapters; it never calls a handler",
  },
  {
    from: "functions/composition.ts",
    may: ["functions/core/", "functions/config.ts", "functions/handler-deps.ts"],
    why: "composition takes ports as given, so each Lambda bundles only the adapters its wiring builds",
  },
  { from: "functions/handler-deps.ts", may: ["functions/core/"], why: "handler-deps holds types over core's ports" },
  {
    from: "functions/config.ts",
    may: ["functions/core/"],
    why: "config reads the environment and knows only core's rules",
  },
  { from: "functions/", may: ["functions/"], why: "Lambda code imports nothing outside functions/" },
  {
    from: "local/smoke.ts",
    mayNot: ["functions/wiring/", "test/", "bench/"],
    why: "the smoke test checks a deployed stage against what infra declares, so it may read infra; never the AWS wiring or the tests",
  },
  {
    from: "local/",
    mayNot: ["infra/", "functions/wiring/", "test/", "bench/"],
    why: "the embedded home builds its own adapters: never the AWS wiring, the infra or the tests",
  },
  {
    from: "infra/",
    mayNot: ["functions/handlers/", "functions/wiring/", "functions/composition.ts", "local/", "test/", "bench/"],
    why: "infra is data: it may read core's rules and adapters' table shapes, never run a function",
  },
  {
    from: "sst.config.ts",
    mayNot: ["functions/handlers/", "functions/wiring/", "functions/composition.ts", "local/", "test/", "bench/"],
    why: "infra is data",
  },
];

const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\sfrom\s*)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** The relative imports of a source text, resolved to project paths (`.js` read as the `.ts` it compiles from). */
export function importsOf(path, text) {
  const found = [];
  for (const match of text.matchAll(SPECIFIER)) {
    const specifier = match[1] ?? match[2];
    if (!specifier?.startsWith(".")) continue;
    const target = normalize(join(dirname(path), specifier))
      .split(sep)
      .join("/")
      .replace(/\.js$/, ".ts");
    found.push({ specifier, target });
  }
  return found;
}

const startsWithAny = (path, prefixes) => prefixes.some((prefix) => path === prefix || path.startsWith(prefix));

/** Every forbidden import in these files, as sentences naming the file, the import and the rule. */
export function checkLayers(files) {
  const problems = [];
  for (const { path, text } of files) {
    const rule = LAYERS.find((layer) => startsWithAny(path, [layer.from]));
    if (!rule) continue;
    for (const { specifier, target } of importsOf(path, text)) {
      const allowed = rule.may ? startsWithAny(target, rule.may) : !startsWithAny(target, rule.mayNot);
      if (!allowed) problems.push(`${path} imports ${specifier}: ${rule.why}.`);
    }
  }
  return problems;
}

function sourceFiles(dir) {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = `${dir}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|mjs|js)$/.test(name) ? [path] : [];
  });
}

if (process.argv[1] && relative(process.argv[1], fileURLToPath(import.meta.url)) === "") {
  const paths = [...sourceFiles("functions"), ...sourceFiles("local"), ...sourceFiles("infra"), "sst.config.ts"];
  const problems = checkLayers(paths.map((path) => ({ path, text: readFileSync(join(ROOT, path), "utf8") })));
  for (const problem of problems) console.error(problem);
  console.log(
    problems.length === 0
      ? `layers: ${paths.length} files, every import within its layer.`
      : `layers: ${problems.length} forbidden import(s).`,
  );
  process.exit(problems.length === 0 ? 0 : 1);
}
