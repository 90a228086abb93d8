/**
 * The committed JSON Schemas (schema/) are what the zod schemas generate today.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { schemaDocuments } from "../../scripts/generate-schemas.js";

describe("committed JSON Schemas", () => {
  it("match what the zod schemas generate (run `npm run schemas` after changing them)", () => {
    for (const [file, generated] of Object.entries(schemaDocuments())) {
      const committed = JSON.parse(readFileSync(new URL(`../../schema/${file}`, import.meta.url), "utf8"));
      expect(committed, file).toEqual(generated);
    }
  });
});
