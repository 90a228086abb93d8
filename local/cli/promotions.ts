/**
 * `npm run cli -- promotions list|validate [file]`: what the promotions file will send and when,
 * and whether it is valid (CI and a pre-commit check run `validate`: exit 1 names every problem).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { owningTrigger } from "../../functions/core/plan-promotions.js";
import {
  checkPromotionsFile,
  localIso,
  nextOccurrences,
  utcIso,
  zoneAbbreviation,
  type Promotion,
} from "../../functions/core/promotions.js";
import type { CliCommand, CliContext } from "./command.js";

const DEFAULT_FILE = "promotions.json";

const USAGE = `usage: npm run cli -- promotions <list|validate> [file] [options]
  list [file]          each promotion with its next occurrences: local time, UTC, and when its
                       hourly trigger plans it (queues the send request for PassEntry)
  validate [file]      check the file; exit 1 naming every problem by promotion and field
  file                 default: ${DEFAULT_FILE}
options:
  --count <n>          occurrences to show per promotion (list; default 5)`;

export const promotionsCommand: CliCommand = {
  name: "promotions",
  summary: "list the promotions' next occurrences, or validate promotions.json",
  async run(args, context) {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: { count: { type: "string" }, help: { type: "boolean", short: "h" } },
      });
    } catch (error) {
      context.io.err(`${(error as Error).message}\n${USAGE}`);
      return 2;
    }
    const { values, positionals } = parsed;
    const [action, file, ...extra] = positionals;
    if (values.help) {
      context.io.out(USAGE);
      return 0;
    }
    if ((action !== "list" && action !== "validate") || extra.length > 0) {
      context.io.err(USAGE);
      return 2;
    }
    const count = Number(values.count ?? 5);
    if (!Number.isInteger(count) || count < 1 || count > 100) {
      context.io.err("--count must be a whole number from 1 to 100.");
      return 2;
    }

    const loaded = loadFile(file ?? DEFAULT_FILE, context);
    if (!loaded.ok) {
      context.io.err(loaded.problem);
      return 1;
    }
    const checked = checkPromotionsFile(loaded.document);
    if (!checked.ok) {
      context.io.err(`${loaded.label} is not valid:`);
      for (const problem of checked.problems) context.io.err(`  - ${problem}`);
      return 1;
    }
    const enabled = checked.promotions.filter((p) => p.enabled).length;
    const summary = `${checked.promotions.length} promotion(s), ${enabled} enabled`;
    if (action === "validate") {
      context.io.out(`${loaded.label} is valid: ${summary}.`);
      return 0;
    }
    context.io.out(
      `${loaded.label}: ${summary}. Times are each promotion's local time, then UTC; the trigger (UTC) is when its send request is queued.`,
    );
    for (const promotion of checked.promotions) printPromotion(promotion, count, context);
    return 0;
  },
};

function loadFile(
  file: string,
  context: CliContext,
): { ok: true; document: unknown; label: string } | { ok: false; problem: string } {
  const path = resolve(context.cwd, file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return {
      ok: false,
      problem: `${file} could not be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
    };
  }
  try {
    return { ok: true, document: JSON.parse(text), label: file };
  } catch (error) {
    return { ok: false, problem: `${file} is not valid JSON: ${(error as Error).message}.` };
  }
}

function printPromotion(promotion: Promotion, count: number, context: CliContext): void {
  const { io } = context;
  const now = context.now();
  io.out("");
  io.out(
    `${promotion.id}: ${JSON.stringify(promotion.name)} (${promotion.enabled ? "enabled" : "disabled: nothing is planned"})`,
  );
  const dates =
    promotion.startDate || promotion.endDate
      ? `, ${promotion.startDate ? `from ${promotion.startDate} ` : ""}${promotion.endDate ? `until ${promotion.endDate}` : ""}`.trimEnd()
      : "";
  io.out(
    `  cron "${promotion.cron}" in ${promotion.timeZone}${dates}; queued ${promotion.leadTimeMinutes} min ahead; entity ${promotion.entityId}; ${audience(promotion)}`,
  );
  const occurrences = nextOccurrences(promotion, now, count);
  if (occurrences.length === 0) {
    io.out("  no further occurrences");
    return;
  }
  const rows = occurrences.map((occurrence) => {
    const trigger = owningTrigger(promotion, occurrence.at);
    const when = occurrence.skipped
      ? "skipped (listed in skip)"
      : `${utcIso(trigger)}${trigger < now ? " (passed)" : ""}`;
    return [localLabel(occurrence.at, promotion.timeZone), utcIso(occurrence.at), when];
  });
  const widths = [0, 1].map((column) =>
    Math.max(...rows.map((row) => row[column]!.length), column === 0 ? "local time".length : "UTC".length),
  );
  io.out(`  ${"local time".padEnd(widths[0]!)}  ${"UTC".padEnd(widths[1]!)}  trigger (UTC)`);
  for (const [local, utc, when] of rows) io.out(`  ${local!.padEnd(widths[0]!)}  ${utc!.padEnd(widths[1]!)}  ${when}`);
}

/** `Fri 2026-07-03 17:00 BST (+01:00)` */
function localLabel(ms: number, zone: string): string {
  const iso = localIso(ms, zone);
  const weekday = new Intl.DateTimeFormat("en-GB", { timeZone: zone, weekday: "short" }).format(new Date(ms));
  return `${weekday} ${iso.slice(0, 10)} ${iso.slice(11, 16)} ${zoneAbbreviation(ms, zone)} (${iso.slice(19)})`;
}

function audience(promotion: Promotion): string {
  const { segments, recipients } = promotion.audience;
  if (recipients) return `${recipients.length} recipient(s)`;
  const tags = (segments ?? []).map((s) => (typeof s.groupTag === "string" ? s.groupTag : JSON.stringify(s)));
  return `segment(s) ${tags.join(", ")}`;
}
