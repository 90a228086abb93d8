/**
 * Opens the local SQLite file shared by the local queue and store. libsql gives better-sqlite3's
 * synchronous API with a prebuilt binary; WAL lets the sandbox CLI and tests read while workers write.
 *
 * The file holds messages, pass ids and names: it and its folder are its owner's alone (0600 in a
 * 0700 folder), also when an earlier version created them readable by everyone.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import Database from "libsql";

export type SqliteDatabase = InstanceType<typeof Database>;

const STICKY = 0o1000;

/**
 * Creates the folder (and its parents) if needed and makes it 0700. An existing folder is only
 * tightened when it is ours: everything in it is one of `ownFiles` (a name, or a name's prefix, as
 * for the database's -wal and -shm). A shared folder (one with the sticky bit, like /tmp) or one
 * holding anything else (DATA_DIR=. in a project) is left as it is: closing it could lock others
 * out, and our files in it are 0600 anyway.
 *
 * @example privateDirectory(".data", ["wallet-messaging.db", "dev-api-key"])
 */
export function privateDirectory(path: string, ownFiles: readonly string[]): void {
  if (!existsSync(path)) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    chmodSync(path, 0o700); // mkdir's mode passes through the umask
    return;
  }
  if ((statSync(path).mode & 0o7777 & ~0o700) === 0) return;
  if (statSync(path).mode & STICKY) return;
  if (readdirSync(path).every((entry) => ownFiles.some((own) => entry.startsWith(own)))) chmodSync(path, 0o700);
}

/** Opens (creating if needed) the database at `path`; `":memory:"` for a throwaway one. */
export function openSqlite(path: string): SqliteDatabase {
  if (path === ":memory:") return configure(new Database(path));
  privateDirectory(dirname(path), [basename(path)]);
  // SQLite creates its -wal and -shm files with the database file's mode: create that one 0600 first.
  closeSync(openSync(path, "a", 0o600));
  const db = configure(new Database(path));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
  return db;
}

function configure(db: SqliteDatabase): SqliteDatabase {
  // A checkpoint every 10,000 pages (~40 MB of WAL) rather than 1,000: a burst of accepted requests
  // then rarely waits on one, which halved the cost of each commit in the bench.
  db.exec(
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 10000;",
  );
  return withStatementCache(db);
}

/**
 * The adapters prepare their SQL at each call, which keeps them easy to read; compiling it again
 * each time was the largest cost of a busy local sender (about 0.15 ms a statement). This hands
 * out one prepared statement per SQL text instead. Reuse is safe because every use is synchronous
 * (run, get or all to completion; no iterator is ever left open).
 */
function withStatementCache(db: SqliteDatabase): SqliteDatabase {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, ReturnType<typeof prepare>>();
  db.prepare = ((sql: string) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  }) as typeof db.prepare;
  return db;
}
