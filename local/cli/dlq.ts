/**
 * `npm run dlq -- list|redrive` (the same as `npm run cli -- dlq …`): look at dead-lettered messages
 * and send them back, locally or on AWS.
 *
 *   npm run dlq -- list                      # the local queue under DATA_DIR (default ./.data)
 *   npm run dlq -- redrive [--id <messageId> ...]
 *   npm run dlq -- list --dlq-url <url> --queue-url <url>   # a deployed stage (AWS credentials from the environment)
 *
 * Redriving is always safe: a message whose send was already decided is not sent again (the ledger).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { openSqlite } from "../../functions/adapters/sqlite-database.js";
import { SqliteDeadLetterQueue } from "../../functions/adapters/sqlite-dead-letter-queue.js";
import { SqliteMessageQueue } from "../../functions/adapters/sqlite-message-queue.js";
import { SqsDeadLetterQueue } from "../../functions/adapters/sqs-dead-letter-queue.js";
import { SqliteRequestStore } from "../../functions/adapters/sqlite-request-store.js";
import { SqliteSendLedger } from "../../functions/adapters/sqlite-send-ledger.js";
import { redriveDeadLetters } from "../../functions/core/dead-letters.js";
import type { SummaryDeps } from "../../functions/core/request-summary.js";
import { systemClock, type DeadLetterQueue, type DeadLetterView, type Log } from "../../functions/core/ports.js";

/** The CLI prints its own sentences; the use case's log lines would only repeat them. */
const quietLog: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
import { databasePath } from "../stack.js";
import type { CliCommand, CliIo } from "./command.js";
import { printable, terminalSafe } from "../../functions/core/visible-text.js";

const USAGE = `usage: npm run dlq -- <list|redrive> [options]
  list                 show dead-lettered messages (request id, receives, last error)
  redrive              move them back to the queue (all, or --id <messageId> repeated)
options:
  --data-dir <dir>     local data directory (default: DATA_DIR or ./.data)
  --dlq-url <url>      a deployed dead-letter queue (with --queue-url); see the deploy outputs
  --queue-url <url>    the deployed main queue, where --id redrives go
  --limit <n>          list at most n (default 50)
  --json               print JSON instead of a table`;

/** `dlq` in `npm run cli -- …`, whose router escapes every line it prints. */
export const dlqCommand: CliCommand = {
  name: "dlq",
  summary: "dead-lettered messages: list them, or redrive them to the queue (locally or on AWS)",
  run: (args, context) => dlq(args, context.io, context.env),
};

/** Runs the command on its own, escaping what it prints; returns the exit code. For tests. */
export function runDlqCli(
  argv: string[],
  untrustedOutput: CliIo,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  // Dead letters hold whatever was sent to the queue: every line goes out escaped (see functions/core/visible-text.ts).
  return dlq(
    argv,
    {
      out: (line) => untrustedOutput.out(terminalSafe(line, { keepLineBreaks: true })),
      err: (line) => untrustedOutput.err(terminalSafe(line, { keepLineBreaks: true })),
    },
    env,
  );
}

async function dlq(argv: string[], io: CliIo, env: Record<string, string | undefined>): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        "data-dir": { type: "string" },
        "dlq-url": { type: "string" },
        "queue-url": { type: "string" },
        id: { type: "string", multiple: true },
        limit: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || (command !== "list" && command !== "redrive")) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 2;
  }
  const limit = Number(values.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1) {
    io.err("--limit must be a positive whole number.");
    return 2;
  }

  const { dlq, close, where, summary } = openDeadLetters(values, env);
  try {
    if (command === "list") {
      const letters = await dlq.list(limit);
      if (values.json) io.out(JSON.stringify(letters, null, 2));
      else printTable(letters, where, io);
      return 0;
    }
    // Locally the requests are at hand: clear their dead-letter marks at once. On AWS the sender
    // clears each one when the redriven message comes back to it.
    const result = summary ? await redriveDeadLetters({ ...summary, dlq }, values.id) : await dlq.redrive(values.id);
    if (result.notFound.length > 0) {
      // A mistyped id moved nothing: say so and fail, or a script would take "0 moved" for success.
      const list = summary ? "npm run dlq -- list" : `npm run dlq -- list --dlq-url ${where}`;
      io.err(`${result.note} List the dead letters and their ids with: ${list}`);
      return 1;
    }
    io.out(result.note);
    return 0;
  } catch (error) {
    io.err(`dlq ${command} failed: ${(error as Error).message}`);
    return 1;
  } finally {
    close();
  }
}

function openDeadLetters(
  values: { "data-dir"?: string; "dlq-url"?: string; "queue-url"?: string },
  env: Record<string, string | undefined>,
) {
  const dlqUrl = values["dlq-url"] ?? env.DEAD_LETTER_QUEUE_URL;
  if (dlqUrl) {
    const queueUrl = values["queue-url"] ?? env.MESSAGES_QUEUE_URL ?? "";
    return {
      dlq: new SqsDeadLetterQueue(dlqUrl, queueUrl) as DeadLetterQueue,
      close: () => undefined,
      where: dlqUrl,
      summary: undefined,
    };
  }
  const dataDir = resolve(values["data-dir"] ?? env.DATA_DIR ?? "./.data");
  const db = openSqlite(databasePath(dataDir));
  const summary: SummaryDeps = {
    store: new SqliteRequestStore(db),
    ledger: new SqliteSendLedger(db),
    log: quietLog,
    clock: systemClock,
  };
  return {
    dlq: new SqliteDeadLetterQueue(new SqliteMessageQueue(db)) as DeadLetterQueue,
    close: () => db.close(),
    where: dataDir,
    summary,
  };
}

function printTable(letters: DeadLetterView[], where: string, io: CliIo): void {
  if (letters.length === 0) {
    io.out(`No dead letters in ${where}.`);
    return;
  }
  io.out(`${letters.length} dead letter(s) in ${where}:`);
  for (const l of letters) {
    io.out(
      `- ${printable(l.messageId)}  request ${l.requestId === null ? "(unreadable body)" : printable(l.requestId)}  receives ${l.receiveCount}  sent ${printable(l.sentAt ?? "?")}`,
    );
    if (l.lastError) io.out(`    last error: ${printable(l.lastError)}`);
  }
}
