/**
 * `npm run cli -- promotions list|validate`: a bad promotions file is refused with exit 1 and a
 * sentence per problem naming the promotion and the field; `list` shows each occurrence in local
 * time and UTC with the trigger that queues it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../../local/cli.js";
import type { CliContext } from "../../local/cli/command.js";

const PROJECT_ROOT = new URL("../..", import.meta.url).pathname;

const valid = {
  id: "friday-happy-hour",
  name: "Friday happy hour",
  enabled: true,
  cron: "0 17 * * 5",
  timeZone: "Europe/London",
  entityId: "my-entity",
  message: "Happy hour starts now!",
  audience: { segments: [{ groupTag: "happy-hour" }] },
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "wm-promotions-cli-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function writePromotions(name: string, promotions: unknown[]): string {
  writeFileSync(join(dir, name), JSON.stringify({ promotions }, null, 2));
  return name;
}

async function cli(args: string[], now = Date.parse("2026-03-26T12:00:00Z")) {
  const out: string[] = [];
  const err: string[] = [];
  const context: CliContext = {
    io: { out: (l) => out.push(l), err: (l) => err.push(l) },
    env: {},
    cwd: dir,
    now: () => now,
  };
  const code = await runCli(args, context);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("promotions validate", () => {
  it("passes the committed promotions.json", async () => {
    const result = await cli(["promotions", "validate", join(PROJECT_ROOT, "promotions.json")]);

    expect(result.err).toBe("");
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/is valid: \d+ promotion\(s\), \d+ enabled\./);
  });

  it.each([
    [
      "an invalid cron",
      { cron: "0 25 * * 5" },
      'promotion "friday-happy-hour": cron "0 25 * * 5" is not a valid cron expression',
    ],
    [
      "an unknown time zone",
      { timeZone: "Europe/Londn" },
      'promotion "friday-happy-hour": timeZone "Europe/Londn" is not a known IANA time zone',
    ],
    ["a blank message", { message: " " }, 'promotion "friday-happy-hour": message must not be blank'],
    [
      "an empty audience",
      { audience: { segments: [] } },
      'promotion "friday-happy-hour": audience.segments must not be empty',
    ],
  ])("exits 1 on %s, naming the promotion and the field", async (_, overrides, expected) => {
    const file = writePromotions("bad.json", [{ ...valid, ...overrides }]);

    const result = await cli(["promotions", "validate", file]);

    expect(result.code).toBe(1);
    expect(result.err).toContain("bad.json is not valid:");
    expect(result.err).toContain(`  - ${expected}`);
    expect(result.out).toBe("");
  });

  it("exits 1 on duplicate ids and lists every problem of the file at once", async () => {
    const file = writePromotions("bad.json", [
      valid,
      { ...valid, message: "" },
      { ...valid, id: "brunch", cron: "0 25 * * 6" },
    ]);

    const result = await cli(["promotions", "validate", file]);

    expect(result.code).toBe(1);
    expect(result.err.split("\n").slice(1)).toEqual([
      '  - promotion "friday-happy-hour": message must not be blank',
      '  - promotion "brunch": cron "0 25 * * 6" is not a valid cron expression (Invalid value for hour: 25)',
      '  - promotion "friday-happy-hour": id is used by more than one promotion (entries 1 and 2)',
    ]);
  });

  it("exits 1 when the file is missing or not JSON", async () => {
    writeFileSync(join(dir, "broken.json"), "{ promotions: [");

    const missing = await cli(["promotions", "validate", "nowhere.json"]);
    const broken = await cli(["promotions", "validate", "broken.json"]);

    expect(missing).toMatchObject({ code: 1, err: "nowhere.json could not be read: ENOENT." });
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/^broken\.json is not valid JSON: /);
  });

  it("exits 1 from a real `npm run cli` process, as CI or a pre-commit hook would run it", () => {
    const file = join(dir, writePromotions("bad.json", [{ ...valid, cron: "0 25 * * 5" }]));

    const run = spawnSync(process.execPath, ["--import", "tsx", "local/cli.ts", "promotions", "validate", file], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('promotion "friday-happy-hour": cron "0 25 * * 5" is not a valid cron expression');
  });
});

describe("promotions list", () => {
  it("shows the next occurrences in local time and UTC, with the trigger that queues each, across spring forward", async () => {
    // Prepare: daily 01:30 London; on 29 March 2026 01:30 does not exist and croner sends at 02:00 BST.
    const file = writePromotions("promotions.json", [
      { ...valid, id: "night-owl", name: "Night owl", cron: "30 1 * * *", leadTimeMinutes: 90 },
    ]);

    // Act
    const result = await cli(["promotions", "list", file, "--count", "4"], Date.parse("2026-03-26T12:00:00Z"));

    // Assess
    expect(result.code).toBe(0);
    const rows = result.out
      .split("\n")
      .filter((l) => /^\s+\w{3} 2026-/.test(l))
      .map((l) => l.trim().split(/\s{2,}/));
    expect(rows).toEqual([
      ["Fri 2026-03-27 01:30 GMT (+00:00)", "2026-03-27T01:30:00Z", "2026-03-27T00:00:00Z"],
      ["Sat 2026-03-28 01:30 GMT (+00:00)", "2026-03-28T01:30:00Z", "2026-03-28T00:00:00Z"],
      ["Sun 2026-03-29 02:00 BST (+01:00)", "2026-03-29T01:00:00Z", "2026-03-28T23:00:00Z"],
      ["Mon 2026-03-30 01:30 BST (+01:00)", "2026-03-30T00:30:00Z", "2026-03-29T23:00:00Z"],
    ]);
    expect(result.out).toContain('night-owl: "Night owl" (enabled)');
    expect(result.out).toContain('cron "30 1 * * *" in Europe/London; queued 90 min ahead');
  });

  it("marks skipped occurrences and disabled promotions", async () => {
    const file = writePromotions("promotions.json", [
      { ...valid, skip: ["2026-03-27T17:00:00Z"] },
      { ...valid, id: "brunch", name: "Brunch", enabled: false, cron: "0 10 * * 6", timeZone: "America/New_York" },
    ]);

    const result = await cli(["promotions", "list", file, "--count", "2"]);

    expect(result.code).toBe(0);
    expect(result.out).toMatch(
      /Fri 2026-03-27 17:00 GMT \(\+00:00\)\s+2026-03-27T17:00:00Z\s+skipped \(listed in skip\)/,
    );
    expect(result.out).toContain('brunch: "Brunch" (disabled: nothing is planned)');
  });

  it("refuses to list an invalid file, with the same messages as validate", async () => {
    const file = writePromotions("promotions.json", [{ ...valid, timeZone: "Nowhere/Special" }]);

    const result = await cli(["promotions", "list", file]);

    expect(result.code).toBe(1);
    expect(result.err).toContain(
      'promotion "friday-happy-hour": timeZone "Nowhere/Special" is not a known IANA time zone',
    );
  });
});

describe("cli router", () => {
  it("answers usage with exit 2 for no command, an unknown command or an unknown action", async () => {
    const none = await cli([]);
    const unknown = await cli(["frobnicate"]);
    const action = await cli(["promotions", "delete"]);

    expect(none.code).toBe(2);
    expect(none.err).toContain("promotions  list the promotions' next occurrences, or validate promotions.json");
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.err).toContain('Unknown command "frobnicate".');
    expect(action.code).toBe(2);
    expect(action.err).toContain("usage: npm run cli -- promotions <list|validate>");
  });
});
