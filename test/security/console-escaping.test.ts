/**
 * The console shows what callers wrote: control and bidi characters in a message must reach the
 * page visibly escaped (`\u001b`), never raw. HTTP against the local stack, signed in with the
 * operator key as a person would be.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSecuredStack, type SecuredStack } from "./stack-support.js";

let s: SecuredStack;
beforeAll(async () => {
  s = await startSecuredStack({ startWorkers: false });
});
afterAll(async () => {
  await s.stop();
});

/** Signs in with the operator key; answers the session cookie. */
async function signIn(): Promise<string> {
  const answer = await fetch(`${s.stack.url}/console/sign-in`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: s.stack.url },
    body: new URLSearchParams({ key: s.operatorKey }).toString(),
  });
  const cookie = (answer.headers.get("set-cookie") ?? "").split(";")[0]!;
  expect(cookie, "signed in").not.toBe("");
  return cookie;
}

/** Every control and bidi character the outside check named, and the rest of their kinds. */
const HOSTILE =
  "\u001b[31mRED\u001b]0;title\u0007 \u202eevil \u0085next \u202a\u202b\u202c\u202d \u2066\u2067\u2068\u2069 \u200e\u200f \u061c end";
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what this test looks for.
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/u;

describe("the console's request page", () => {
  it("shows control and bidi characters of a message escaped as \\uXXXX, never raw", async () => {
    const posted = await s.request(
      "POST",
      "/api/v1/entities/e1/messaging/wallet",
      JSON.stringify({
        batch: { message: HOSTILE, segments: [{ groupTag: "vip" }], scheduledAt: "2030-03-31T13:16:26Z" },
      }),
      { "content-type": "application/json", authorization: `Bearer ${s.apiKey}` },
    );
    const id = (JSON.parse(posted.text) as { data: { id: string } }).data.id;
    const cookie = await signIn();

    const page = await (await fetch(`${s.stack.url}/console/requests/${id}`, { headers: { cookie } })).text();
    const home = await (await fetch(`${s.stack.url}/`, { headers: { cookie } })).text();

    expect(posted.status).toBe(202);
    expect(page).toContain(`\\u001b[31mRED\\u001b]0;title\\u0007 \\u202eevil`);
    for (const code of ["0085", "202a", "202d", "2066", "2069", "200e", "200f", "061c"])
      expect(page).toContain(`\\u${code}`);
    expect(RAW.exec(page)?.[0], "a raw control or bidi character in the request page").toBeUndefined();
    expect(RAW.exec(home)?.[0], "a raw control or bidi character in the home page").toBeUndefined();
  });
});
