/**
 * Opens the local SQLite file shared by the local queue and store. libsql gives better-sqlite3's
 * synchronous API with a prebuilt binary; WAL lets the sandbox CLI and tests read while workers write.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "libsql";

export type SqliteDatabase = InstanceType<typeof Database>;

/** Opens (creating if needed) the database at `path`; `":memory:"` for a throwaway one. */
export function openSqlite(path: string): SqliteDatabase {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
  return db;
}
