/**
 * zod's issues as sentences a caller can act on: the field's path, then what is wrong with it. Every
 * door that validates with zod (HTTP bodies and queries, queue messages, promotions and automations
 * files, the CLI) answers with these.
 */
import type * as z from "./zod.js";

/**
 * One sentence per issue, led by the field's path unless the message already names it.
 *
 * @example describeIssues(error) // ["batch.message is required", "batch.segments: must not be empty"]
 */
export function describeIssues(error: z.core.$ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.join(".");
    return path === "" || issue.message.startsWith(path) ? issue.message : `${path}: ${issue.message}`;
  });
}
