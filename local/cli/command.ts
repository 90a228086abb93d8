/**
 * What every operator CLI command shares: how it is named in `npm run cli -- <command> …`, how it
 * prints, and what it may read. Commands live one per module in local/cli/ and are registered in
 * local/cli.ts; each returns its exit code instead of exiting, so tests call them directly.
 */

export interface CliIo {
  /** One line to stdout. */
  out(line: string): void;
  /** One line to stderr. */
  err(line: string): void;
}

export interface CliContext {
  io: CliIo;
  env: Record<string, string | undefined>;
  /** Relative paths given on the command line are read from here. */
  cwd: string;
  /** The clock, so "next occurrences" can be asserted in tests. */
  now: () => number;
}

export interface CliCommand {
  /** The first word after `npm run cli --`, e.g. `promotions`. */
  name: string;
  /** One line for the top-level help. */
  summary: string;
  /** Runs `npm run cli -- <name> …args`; resolves with the exit code (0 ok, 1 failed, 2 usage). */
  run(args: string[], context: CliContext): Promise<number>;
}
