/**
 * What the embedded home leaves on disk and in its log: the SQLite files under DATA_DIR hold
 * messages, pass ids and names, so they are readable by their owner only (files 0600 in a 0700
 * folder), also when an earlier version created them more open; and a client that hangs up
 * mid-request is a debug line, not an error that pages someone.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "libsql";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { openSqlite, privateDirectory } from "../../functions/adapters/sqlite-database.js";
import { startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { databasePath, startLocalStack, type LocalStack } from "../../local/stack.js";
import { PASSENTRY_EXAMPLE_BODY } from "../support/events.js";

const API_KEY = "files-key-0001";
const mode = (path: string) => statSync(path).mode & 0o777;

let root: string;
let sandbox: Sandbox | undefined;
let stack: LocalStack | undefined;
afterEach(async () => {
  await stack?.stop();
  await sandbox?.close();
  stack = undefined;
  sandbox = undefined;
  rmSync(root, { recursive: true, force: true });
});

async function start(dataDir: string, log = new MemoryLog()): Promise<LocalStack> {
  sandbox = await startSandbox({ tokens: ["files-token"] });
  stack = await startLocalStack({
    DATA_DIR: dataDir,
    PASSENTRY_BASE_URL: sandbox.url,
    PASSENTRY_TOKEN: "files-token",
    API_KEYS: `files:${API_KEY}`,
    log,
    startWorkers: false,
  });
  return stack;
}

const post = (s: LocalStack) =>
  fetch(`${s.url}/api/v1/entities/ent-1/messaging/wallet`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify(PASSENTRY_EXAMPLE_BODY),
  });

describe("local data files", () => {
  it("creates DATA_DIR 0700 and the database, its WAL and shared-memory files 0600", async () => {
    // Prepare
    root = mkdtempSync(join(tmpdir(), "wm-files-"));
    const dataDir = join(root, "nested", "data");

    // Act
    const s = await start(dataDir);
    expect((await post(s)).status).toBe(202);

    // Assess
    expect(mode(dataDir)).toBe(0o700);
    const db = databasePath(dataDir);
    for (const file of [db, `${db}-wal`, `${db}-shm`]) {
      expect(existsSync(file), file).toBe(true);
      expect(mode(file), file).toBe(0o600);
    }
  });

  it("tightens a folder and database an earlier version left 0755 and 0644", async () => {
    // Prepare: what a previous version created.
    root = mkdtempSync(join(tmpdir(), "wm-files-"));
    const dataDir = join(root, "data");
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const db = databasePath(dataDir);
    const old = new Database(db);
    old.exec(
      "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS leftovers (x TEXT); INSERT INTO leftovers VALUES ('pass id');",
    );
    old.close();
    chmodSync(db, 0o644);

    // Act
    const s = await start(dataDir);
    expect((await post(s)).status).toBe(202);

    // Assess
    expect(mode(dataDir)).toBe(0o700);
    for (const file of [db, `${db}-wal`, `${db}-shm`]) expect(mode(file), file).toBe(0o600);
  });
});

describe("privateDirectory", () => {
  it("leaves a folder that is not ours alone (shared with the sticky bit, or holding other things), while our files in it are still 0600", () => {
    // Prepare
    root = mkdtempSync(join(tmpdir(), "wm-files-"));
    const shared = join(root, "shared");
    const busy = join(root, "busy");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    mkdirSync(busy);
    chmodSync(busy, 0o755);
    writeFileSync(join(busy, "notes.txt"), "someone else's");

    // Act: twice, so the second time our database is already there beside the other things.
    for (let i = 0; i < 2; i++)
      for (const folder of [shared, busy]) openSqlite(join(folder, "wallet-messaging.db")).close();
    privateDirectory(busy, ["wallet-messaging.db", "dev-api-key"]);

    // Assess
    expect(statSync(shared).mode & 0o7777).toBe(0o1777);
    expect(mode(busy)).toBe(0o755);
    for (const folder of [shared, busy]) expect(mode(join(folder, "wallet-messaging.db"))).toBe(0o600);
  });
});

describe("aborted client connections", () => {
  it("logs a client that hangs up mid-body as a debug line, not an error, and keeps serving", async () => {
    // Prepare
    root = mkdtempSync(join(tmpdir(), "wm-abort-"));
    const log = new MemoryLog();
    const s = await start(join(root, "data"), log);
    const { port } = new URL(s.url);

    // Act: promise a body, send part of it, hang up.
    for (let i = 0; i < 3; i++) {
      const socket = net.connect(Number(port), "127.0.0.1");
      await new Promise<void>((resolve) => socket.once("connect", resolve));
      socket.write(
        `POST /api/v1/entities/ent-1/messaging/wallet HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Length: 1000\r\n\r\n{"batch":`,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = await post(s);

    // Assess
    expect(log.lines.filter((l) => l.level === "error")).toEqual([]);
    expect(log.lines.filter((l) => l.level === "debug" && /closed the connection/.test(l.message))).toHaveLength(3);
    expect(after.status).toBe(202);
  });
});
