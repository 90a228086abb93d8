/**
 * A validator's raw text ("Invalid input: expected object, received undefined", "Too small: expected
 * number to be >=1") says what is wrong but not what to send: each refusal here says the fix, with
 * an example, and queues nothing. HTTP against the local stack (`npm start`'s pipeline), as a key
 * and as an operator signed in to the console.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSecuredStack, type SecuredStack } from "../security/stack-support.js";

let s: SecuredStack;
beforeAll(async () => {
  s = await startSecuredStack({ startWorkers: false });
});
afterAll(async () => {
  await s.stop();
});

const asKey = () => ({ "content-type": "application/json", authorization: `Bearer ${s.apiKey}` });
const trigger = "/api/v1/entities/e1/messaging/wallet";
const errorsOf = (text: string): string[] => (JSON.parse(text) as { errors: string[] }).errors;
const queued = () => s.stack.queue.peek().length;
/** What zod says on its own: true, but no help to a caller. */
const RAW_VALIDATOR = /Invalid input|expected \w+, received|Too small|Too big/;

const batchWith = (fields: object) =>
  JSON.stringify({ batch: { message: "Hi", scheduledAt: "2030-03-31T13:16:26Z", ...fields } });

describe("a trigger body the schema refuses", () => {
  it.each([
    ["{}", "an empty body"],
    ['{"__proto__":{}}', "a body of only __proto__"],
    ['{"batch":null}', "a null batch"],
  ])("says the body needs a batch object, with an example, for %s (%s)", async (text) => {
    const before = queued();

    const answer = await s.request("POST", trigger, text, asKey());

    expect(answer.status).toBe(422);
    const problems = errorsOf(answer.text);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('the body needs a "batch" object');
    expect(problems[0]).toContain('{"batch":{"message":"Hi","segments":[{"groupTag":"vip"}]}}');
    expect(problems[0]).not.toMatch(RAW_VALIDATOR);
    expect(queued()).toBe(before);
  });

  it("says each segment is an object such as {groupTag: vip} when a segment is a bare string", async () => {
    const answer = await s.request("POST", trigger, batchWith({ segments: ["vip"] }), asKey());

    expect(answer.status).toBe(422);
    const [problem] = errorsOf(answer.text);
    expect(problem).toBe('batch.segments.0: each segment must be an object such as {"groupTag":"vip"}, not a string');
  });

  it.each([
    ["name", {}],
    ["tag", 42],
  ])("says batch.%s must be text", async (field, value) => {
    const answer = await s.request(
      "POST",
      trigger,
      batchWith({ segments: [{ groupTag: "vip" }], [field]: value }),
      asKey(),
    );

    expect(answer.status).toBe(422);
    const [problem] = errorsOf(answer.text);
    expect(problem).toBe(`batch.${field} must be text of 1 to 200 characters`);
  });

  it("says what an empty name must be rather than 'Too small'", async () => {
    const answer = await s.request("POST", trigger, batchWith({ segments: [{ groupTag: "vip" }], name: "" }), asKey());

    expect(answer.status).toBe(422);
    expect(errorsOf(answer.text)).toEqual(["batch.name must be text of 1 to 200 characters"]);
  });
});

describe("a request-list query the schema refuses", () => {
  it.each([["0"], ["101"], ["2.5"], ["ten"]])(
    "says limit is a whole number from 1 to 100 for limit=%s",
    async (limit) => {
      const answer = await s.request("GET", `/api/v1/requests?limit=${limit}`, undefined, asKey());

      expect(answer.status).toBe(400);
      const problems = errorsOf(answer.text);
      expect(problems).toEqual(["limit must be a whole number from 1 to 100"]);
    },
  );

  it("says to leave an empty cursor out or pass links.next", async () => {
    const answer = await s.request("GET", "/api/v1/requests?cursor=", undefined, asKey());

    expect(answer.status).toBe(400);
    const [problem] = errorsOf(answer.text);
    expect(problem).toMatch(/^cursor is empty: leave it out for the first page, or pass links\.next/);
    expect(problem).not.toMatch(RAW_VALIDATOR);
  });

  it("names the allowed states for an unknown one", async () => {
    const answer = await s.request("GET", "/api/v1/requests?state=bogus", undefined, asKey());

    expect(answer.status).toBe(400);
    expect(errorsOf(answer.text)).toEqual([
      "state must be one of queued, submitted, failed, unknown, cancelled, deadLettered (got bogus)",
    ]);
  });

  it("shows the console's operator the problems and the allowed states, not only that the query is not valid", async () => {
    const signIn = await fetch(`${s.stack.url}/console/sign-in`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: s.stack.url },
      body: new URLSearchParams({ key: s.operatorKey }).toString(),
    });
    const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0]!;

    const page = await fetch(`${s.stack.url}/?state=bogus`, { headers: { cookie } });
    const text = await page.text();

    expect(page.status).toBe(400);
    expect(text).toContain("The list query is not valid.");
    expect(text).toContain(
      "state must be one of queued, submitted, failed, unknown, cancelled, deadLettered (got bogus)",
    );
  });
});
