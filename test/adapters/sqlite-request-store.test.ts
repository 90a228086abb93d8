/**
 * The SQLite request store keeps the request-store contract, including databases an earlier version
 * wrote.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "libsql";
import { afterEach, describe, expect, it } from "vitest";
import { openSqlite } from "../../functions/adapters/sqlite-database.js";
import { SqliteRequestStore } from "../../functions/adapters/sqlite-request-store.js";
import type { RequestRecord } from "../../functions/core/schemas.js";
import { describeRequestStoreContract, requestRecord } from "./request-store-contract.js";

describeRequestStoreContract("SqliteRequestStore", async () => {
  const db = openSqlite(":memory:");
  return {
    store: new SqliteRequestStore(db),
    close: async () => {
      db.close();
    },
  };
});

describe("SqliteRequestStore opening a database an earlier version wrote (one global key space)", () => {
  let dir: string;
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** The schema and rows of the version before per-caller keys. */
  function earlierVersionDatabase(records: RequestRecord[]): string {
    dir = mkdtempSync(join(tmpdir(), "wm-legacy-requests-"));
    const path = join(dir, "wallet-messaging.db");
    const db = new Database(path);
    db.exec("CREATE TABLE requests (request_id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, record TEXT NOT NULL);");
    for (const record of records)
      db.prepare("INSERT INTO requests VALUES (?, ?, ?)").run(
        record.requestId,
        record.idempotencyKey ?? null,
        JSON.stringify(record),
      );
    db.close();
    return path;
  }

  it("keeps every request and files each old key under the callers that could have made it", async () => {
    // Prepare
    const byCrm = requestRecord({ idempotencyKey: "order-1", apiKeyName: "crm", fingerprint: "f1" });
    const automation = requestRecord({
      requestId: "auto-welcome-evt-1",
      source: "webhook",
      idempotencyKey: "auto-welcome-evt-1",
    });
    const fromSqs = requestRecord({ source: "sqs" });
    const path = earlierVersionDatabase([byCrm, automation, fromSqs]);

    // Act
    const db = openSqlite(path);
    const store = new SqliteRequestStore(db);
    const results = {
      keyCrm: await store.create(requestRecord({ idempotencyKey: "order-1", caller: "key:crm", fingerprint: "f1" })),
      signerCrm: await store.create(
        requestRecord({ idempotencyKey: "order-1", caller: "signer:crm", fingerprint: "f1" }),
      ),
      shop: await store.create(requestRecord({ idempotencyKey: "order-1", caller: "key:shop" })),
      automation: await store.create(
        requestRecord({
          requestId: "auto-welcome-evt-1",
          source: "webhook",
          idempotencyKey: "auto-welcome-evt-1",
          caller: "automation:welcome",
        }),
      ),
    };
    const kept = [
      await store.get(byCrm.requestId),
      await store.get(automation.requestId),
      await store.get(fromSqs.requestId),
    ];
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]
    ).map((t) => t.name);
    db.close();

    // Assess
    expect(results).toEqual({
      keyCrm: { created: false, existing: byCrm },
      signerCrm: { created: false, existing: byCrm },
      shop: { created: true },
      automation: { created: false, existing: automation },
    });
    expect(kept).toEqual([byCrm, automation, fromSqs]);
    expect(tables).toEqual(["idempotency_keys", "requests"]);
  });

  it("migrates once: opening the database again changes nothing", async () => {
    // Prepare
    const byCrm = requestRecord({ idempotencyKey: "order-1", apiKeyName: "crm" });
    const path = earlierVersionDatabase([byCrm]);
    const first = openSqlite(path);
    new SqliteRequestStore(first);
    first.close();

    // Act
    const db = openSqlite(path);
    const store = new SqliteRequestStore(db);
    const again = await store.create(requestRecord({ idempotencyKey: "order-1", caller: "key:crm" }));
    db.close();

    // Assess
    expect(again).toEqual({ created: false, existing: byCrm });
  });
});
