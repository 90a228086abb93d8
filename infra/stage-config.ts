/**
 * Stage configuration: what differs between stages (region, PassEntry, tracing, batch keys the
 * operator allows beyond the contract) comes from the
 * committed table `stages.json`, never from the deploying shell, so a deploy from CI or from a
 * laptop with another AWS_REGION or without PASSENTRY_BASE_URL builds the same stage. The alarm
 * email is personal data and lives in the stage secret `AlarmEmail` (infra/alarms.ts).
 *
 * Plain module (no SST globals): `sst.config.ts` imports it in `app()` to pin the region, `infra/`
 * reads it through `infra/stage.ts`, and `test/infra/` checks the table.
 *
 * @example
 *   stageSettings("production").region // "eu-west-2", whatever AWS_REGION the shell holds
 */
import stagesDocument from "../stages.json" with { type: "json" };
import * as z from "../functions/core/zod.js";

/** Stages that keep their data, refuse `sst remove`, must be listed by name and need an alarm email. */
export const PROTECTED_STAGES: readonly string[] = ["production"];

/** The row that serves every stage the table does not name (never a protected one). */
export const ANY_OTHER_STAGE = "*";

/** AWS's region names: two letters, an optional `-gov`, a direction, a digit (eu-west-2, us-gov-west-1). */
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

const StageRow = z.strictObject({
  region: z.string().check(z.regex(REGION, "region must be an AWS region name such as eu-west-2")),
  passEntryBaseUrl: z.url({
    protocol: /^https$/,
    error: "passEntryBaseUrl must be an https URL such as https://api.passentry.com",
  }),
  tracing: z.optional(z.boolean()),
  allowedBatchKeys: z.optional(
    z.array(
      z
        .string()
        .check(z.regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, "allowedBatchKeys must list batch key names such as priority")),
    ),
  ),
});

const StagesDocument = z.object({
  stages: z.record(z.string(), StageRow),
});

export interface StageSettings {
  stage: string;
  /** Where every resource of the stage is created; pinned in the AWS provider. */
  region: string;
  /** PassEntry's base URL for this stage's sender, without a trailing slash. */
  passEntryBaseUrl: string;
  /** AWS X-Ray active tracing on every function (adds cold-start time; off unless the table says so). */
  tracing: boolean;
  /** Protected: keeps its table and secrets, refuses `sst remove`, and cannot deploy without an alarm email. */
  protected: boolean;
  /** Top-level `batch` keys beyond the contract forwarded to PassEntry on this stage (README, *The API*); none by default. */
  allowedBatchKeys: readonly string[];
}

export class StageConfigError extends Error {
  override name = "StageConfigError";
}

/** Lambda function names are at most 64 characters; stage names end up in every one of ours. */
const STAGE_NAME = /^[a-z0-9][a-z0-9-]{0,19}$/;

/**
 * The settings of one stage, from the committed table (`stages.json` unless another document is
 * given, as tests do). Throws a StageConfigError, in sentences saying what to change, for a
 * protected stage the table does not name, a malformed table, or a stage name that would not fit
 * AWS's name limits.
 */
export function stageSettings(stage: string, document: unknown = stagesDocument): StageSettings {
  if (!STAGE_NAME.test(stage)) {
    throw new StageConfigError(
      `The stage name "${stage}" cannot be deployed: use 1 to 20 lowercase letters, digits and dashes, starting with a letter or digit (it becomes part of every function's name).`,
    );
  }
  const parsed = StagesDocument.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "the document"}: ${i.message}`);
    throw new StageConfigError(`stages.json is not valid: ${problems.join("; ")}. Fix it and deploy again.`);
  }
  const rows = parsed.data.stages;
  const isProtected = PROTECTED_STAGES.includes(stage);
  const row = rows[stage] ?? (isProtected ? undefined : rows[ANY_OTHER_STAGE]);
  if (!row) {
    throw new StageConfigError(
      isProtected
        ? `stages.json has no row for the stage "${stage}": a protected stage is deployed only with its region and PassEntry URL written down. Add "${stage}": {"region": "…", "passEntryBaseUrl": "https://api.passentry.com"} under "stages".`
        : `stages.json has no row for the stage "${stage}" and no "${ANY_OTHER_STAGE}" row for other stages. Add one under "stages".`,
    );
  }
  return {
    stage,
    region: row.region,
    passEntryBaseUrl: row.passEntryBaseUrl.replace(/\/+$/, ""),
    tracing: row.tracing ?? false,
    protected: isProtected,
    allowedBatchKeys: row.allowedBatchKeys ?? [],
  };
}
