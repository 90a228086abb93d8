import { afterAll, beforeAll, describe as suite, expect, it } from "vitest";
import { describe, startStage, waitFor, type Stage } from "./support/stage.js";

suite("smoke", () => {
  let stage: Stage;
  beforeAll(async () => {
    stage = await startStage();
  });
  afterAll(async () => {
    await stage?.close();
  });
  it("answers health", async () => {
    const res = await stage.api("/health", { key: null });
    expect(res.status).toBe(200);
  });
  it("accepts the example", async () => {
    const res = await stage.api("/api/v1/entities/my-entity/messaging/wallet", { method: "POST", headers: { "content-type": "application/json", "idempotency-key": "order-1001" }, body: JSON.stringify({ batch: { message: "Hello, World!", segments: [{ groupTag: "summerPromotion" }], scheduledAt: "2030-03-31T13:16:26Z" } }) });
    const text = await res.text();
    console.log(res.status, text);
    console.log(describe(stage));
    expect(res.status).toBe(202);
    const id = JSON.parse(text).data.id;
    await waitFor("batch", () => stage.batchesFor(id).length === 1, stage);
  });
});
