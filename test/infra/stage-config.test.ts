/**
 * The stage table (stages.json) and its rules, without SST: the committed table is valid, a
 * protected stage must be named, other stages use the `*` row, and a malformed table stops the
 * deploy with a sentence. check:infra proves the synthesized stage follows it
 * (stage-policies.infra.ts) and that a production deploy without it is refused (stage-refusals.infra.ts).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ANY_OTHER_STAGE, PROTECTED_STAGES, stageSettings } from "../../infra/stage-config.js";
import { projectRoot } from "./support/sst-bundle.js";

const committed = JSON.parse(readFileSync(`${projectRoot}/stages.json`, "utf8"));
const row = { region: "eu-west-2", passEntryBaseUrl: "https://api.passentry.com" };

describe("stageSettings", () => {
  it("reads the committed table: production named, in its region, at PassEntry, without tracing", () => {
    expect(PROTECTED_STAGES).toEqual(["production"]);
    expect(stageSettings("production", committed)).toEqual({
      stage: "production",
      region: "eu-west-2",
      passEntryBaseUrl: "https://api.passentry.com",
      tracing: false,
      protected: true,
      allowedBatchKeys: [],
    });
    expect(committed.stages[ANY_OTHER_STAGE]).toBeDefined();
  });

  it("serves any other stage from the * row, unprotected", () => {
    const settings = stageSettings("pr-42", {
      stages: { production: row, "*": { ...row, region: "us-east-1", tracing: true } },
    });

    expect(settings).toEqual({
      stage: "pr-42",
      region: "us-east-1",
      passEntryBaseUrl: "https://api.passentry.com",
      tracing: true,
      protected: false,
      allowedBatchKeys: [],
    });
  });

  it("never serves production from the * row", () => {
    expect(() => stageSettings("production", { stages: { "*": row } })).toThrow(
      /stages\.json has no row for the stage "production"/,
    );
  });

  it("refuses a table with a malformed row, saying what to fix", () => {
    expect(() =>
      stageSettings("production", {
        stages: { production: { region: "Europe", passEntryBaseUrl: "http://api.passentry.com" } },
      }),
    ).toThrow(
      /stages\.json is not valid: stages\.production\.region: region must be an AWS region name such as eu-west-2; stages\.production\.passEntryBaseUrl: passEntryBaseUrl must be an https URL/,
    );
    expect(() =>
      stageSettings("production", { stages: { production: { ...row, alarmEmail: "ops@example.com" } } }),
    ).toThrow(/stages\.json is not valid/);
  });

  it("refuses a stage name that cannot become part of a function name", () => {
    expect(() => stageSettings("Prod_Stage", committed)).toThrow(/The stage name "Prod_Stage" cannot be deployed/);
    expect(() => stageSettings("a".repeat(21), committed)).toThrow(/1 to 20 lowercase letters/);
  });

  it("carries the batch keys a stage allows beyond the contract, and refuses a name that is not a key", () => {
    expect(
      stageSettings("dev", { stages: { "*": { ...row, allowedBatchKeys: ["priority"] } } }).allowedBatchKeys,
    ).toEqual(["priority"]);
    expect(() => stageSettings("dev", { stages: { "*": { ...row, allowedBatchKeys: ["no spaces"] } } })).toThrow(
      /allowedBatchKeys must list batch key names/,
    );
  });

  it("drops a trailing slash from the PassEntry URL", () => {
    expect(
      stageSettings("dev", { stages: { "*": { ...row, passEntryBaseUrl: "https://sandbox.example.test/" } } })
        .passEntryBaseUrl,
    ).toBe("https://sandbox.example.test");
  });
});
