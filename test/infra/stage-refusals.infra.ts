/**
 * `sst deploy` refuses a production stage without its settings (a stages.json row, the AlarmEmail
 * stage secret), and check:infra fails when the infra input itself regresses: a copy of the project
 * edited back to what SST 4.17 does by default (every role trusting the account root, AWS's managed
 * log policy), a queue policy without its condition, and a coarse grant in the manifest is
 * synthesized and held to the same checks as the real one.
 *
 * Run by `npm run check:infra` (needs `.sst/platform`).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { stageSettings } from "../../infra/stage-config.js";
import { copyProject } from "./support/project-copy.js";
import { policyProblems, queuePolicyProblems, trustProblems } from "./synthesis/stage-checks.js";
import { synthesize, SynthesisError, type Synthesis } from "./synthesis/synthesize.js";

const PRODUCTION = stageSettings("production");

async function refusal(options: Parameters<typeof synthesize>[0]): Promise<string> {
  try {
    await synthesize(options);
  } catch (error) {
    if (error instanceof SynthesisError) return error.message;
    throw error;
  }
  throw new Error("The synthesis went through; it should have been refused.");
}

describe("a production deploy without its stage settings", () => {
  it("is refused when stages.json has no production row, naming the row to add, even with a default row and a shell region", async () => {
    const root = copyProject({
      "stages.json": (text) => JSON.stringify({ stages: { "*": JSON.parse(text).stages["*"] } }),
    });

    const message = await refusal({
      root,
      stage: "production",
      secrets: { AlarmEmail: "ops@example.com" },
      shell: { AWS_REGION: "eu-west-2" },
    });

    expect(message).toContain(
      'stages.json has no row for the stage "production": a protected stage is deployed only with its region and PassEntry URL written down.',
    );
  });

  it("is refused without the AlarmEmail stage secret, with SST's own instruction, whatever ALARM_EMAIL the shell holds", async () => {
    const message = await refusal({ stage: "production", shell: { ALARM_EMAIL: "ops@example.com" } });

    expect(message).toContain("Set a value for AlarmEmail with `sst secret set AlarmEmail <value>`");
  });

  it("is refused when the AlarmEmail secret is not an email address", async () => {
    const message = await refusal({ stage: "production", secrets: { AlarmEmail: "ops at example" } });

    expect(message).toContain("The AlarmEmail secret is not an email address");
  });
});

describe("check:infra on an infra input changed back", () => {
  let broken: Synthesis;

  beforeAll(async () => {
    const root = copyProject({
      // SST 4.17's defaults come back: the role's trust and its managed policies untouched.
      "infra/lambda.ts": (text) =>
        text
          .replace("args.assumeRolePolicy = JSON.stringify(lambdaTrustPolicy);", "")
          .replace("args.managedPolicyArns = [];", ""),
      // bus.subscribeQueue's policy: no source condition.
      "infra/manifest.ts": (text) =>
        text
          .replace('Condition: { ArnEquals: { "aws:SourceArn": ruleArn } },', "")
          // A coarse grant, as a link gives it.
          .replace(
            "access: { apiKeys: READ_SECRET, table: READ_REQUESTS },",
            'access: { apiKeys: READ_SECRET, table: ["dynamodb:*"] },',
          ),
    });
    broken = await synthesize({ root, stage: "production", secrets: { AlarmEmail: "ops@example.com" } });
  });

  it("names every role that trusts the account root again", () => {
    const problems = trustProblems(broken).filter((p) => p.includes(":root"));

    expect(problems.length).toBeGreaterThanOrEqual(8);
    expect(problems[0]).toMatch(/trusts arn:aws:iam::123456789012:root: only lambda\.amazonaws\.com may assume it/);
  });

  it("names the managed policy and the wildcard action", () => {
    const problems = policyProblems(broken, PRODUCTION).join("\n");

    expect(problems).toMatch(
      /role has managed policies \(arn:aws:iam::aws:policy\/service-role\/AWSLambdaBasicExecutionRole\)/,
    );
    expect(problems).toMatch(
      /grants the wildcard action dynamodb:\* on arn:aws:dynamodb:eu-west-2:123456789012:table\//,
    );
    expect(problems).toMatch(/request-status\.handler\) \(internet-facing status\) may dynamodb:\*: it must only read/);
  });

  it("names the unconditioned queue policy", () => {
    expect(queuePolicyProblems(broken).join("\n")).toMatch(
      /MessagesQueuePolicy lets \{"Service":"events\.amazonaws\.com"\} sqs:SendMessage with no aws:SourceArn condition/,
    );
  });
});
