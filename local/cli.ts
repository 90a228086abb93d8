/**
 * The operator CLI: `npm run cli -- <command> …`. Each command is a module under local/cli/ and is
 * registered below; this file only routes.
 *
 *   npm run cli -- promotions list              # next occurrences of each promotion, local and UTC
 *   npm run cli -- promotions validate [file]   # exit 1 naming every problem
 *   npm run cli -- send --entity <id> --message <text> --segment <tag> [--at <ISO> | --now]
 *   npm run cli -- list [--state <s>] …         # requests newest first, with state and progress
 *   npm run cli -- status <request id>          # what became of a request and its batches
 *   npm run cli -- watch <request id>           # follow it live until it settles
 *   npm run cli -- cancel <request id>          # cancel what has not gone out yet
 *   npm run cli -- resolve <request id> --sent <batch id> | --release   # decide an `unknown` part
 *   npm run cli -- dlq list|redrive             # dead letters, locally or on AWS (also `npm run dlq -- …`)
 */
import "dotenv/config";
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { CliCommand, CliContext } from "./cli/command.js";
import { dlqCommand } from "./cli/dlq.js";
import { promotionsCommand } from "./cli/promotions.js";
import { requestCommands } from "./cli/requests.js";
import { terminalSafe } from "../functions/core/visible-text.js";

/** Every command, in the order the help lists them. Add new ones here. */
export const commands: readonly CliCommand[] = [promotionsCommand, ...requestCommands, dlqCommand];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "usage: npm run cli -- <command> [arguments]",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "Run `npm run cli -- <command> --help` for a command's arguments.",
  ].join("\n");
}

/**
 * Runs one command line; resolves with the exit code.
 *
 * @example
 *   await runCli(["promotions", "validate", "promotions.json"], { io, env: process.env, cwd: process.cwd(), now: Date.now }) // 0
 */
export async function runCli(argv: readonly string[], untrustedOutput: CliContext): Promise<number> {
  // Every line goes out escaped: part of what commands print comes from the API, PassEntry and stored data.
  const io = untrustedOutput.io;
  const context: CliContext = {
    ...untrustedOutput,
    io: {
      out: (line) => io.out(terminalSafe(line, { keepLineBreaks: true })),
      err: (line) => io.err(terminalSafe(line, { keepLineBreaks: true })),
    },
  };
  const [name, ...args] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    (name === undefined ? context.io.err : context.io.out)(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    context.io.err(`Unknown command ${JSON.stringify(name)}.\n${usage()}`);
    return 2;
  }
  return command.run(args, context);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const context: CliContext = {
    io: { out: (line) => console.log(line), err: (line) => console.error(line) },
    env: process.env,
    cwd: process.cwd(),
    now: Date.now,
  };
  runCli(process.argv.slice(2), context).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`cli failed: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
