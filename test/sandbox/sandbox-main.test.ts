/** `npm run sandbox` as a person runs it: its banner says which clock runs, and a taken port is a sentence, not a stack trace. */
import { spawn } from "node:child_process";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { startSandbox } from "../../local/passentry-sandbox/sandbox.js";

const ROOT = new URL("../..", import.meta.url).pathname;

function runSandbox(
  env: Record<string, string>,
  stopWhen: (out: string) => boolean,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "local/passentry-sandbox/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const read = (d: Buffer) => {
      out += d;
      if (stopWhen(out)) child.kill("SIGTERM");
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.once("exit", (code) => resolve({ code, out }));
  });
}

describe("npm run sandbox", () => {
  it("names a taken port and what to do (npm start runs its own sandbox there)", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;

    const { code, out } = await runSandbox({ SANDBOX_PORT: String(port) }, () => false);
    blocker.close();

    expect(code).toBe(1);
    expect(out).toContain(`127.0.0.1:${port} is already in use (npm start runs its own sandbox there)`);
    expect(out).toContain("SANDBOX_PORT=<port> npm run sandbox");
    expect(out).not.toMatch(/\n\s+at /);
  });

  it("says in its banner that its clock runs in real time, or fast when asked", async () => {
    const real = await runSandbox({ SANDBOX_PORT: "0" }, (out) => out.includes("clock:"));
    const fast = await runSandbox({ SANDBOX_PORT: "0", SANDBOX_CLOCK: "fast" }, (out) => out.includes("clock:"));

    expect(real.out).toContain("clock: real time: a scheduled batch starts sending at its scheduledAt");
    expect(fast.out).toContain("clock: fast: scheduled batches start sending 1500 ms after validation");
  });
});

describe("the sandbox's real clock", () => {
  it("keeps a batch scheduled until its scheduledAt, then sends it; the fast clock sends it 1.5 s after validation", async () => {
    let now = Date.parse("2026-06-01T12:00:00Z");
    const real = await startSandbox({ clock: "real", now: () => now });
    const fast = await startSandbox({ now: () => now });
    const create = async (url: string) =>
      (
        (await (
          await fetch(`${url}/api/v1/entities/e/messaging/wallet`, {
            method: "POST",
            headers: { authorization: "Bearer sandbox-token", "content-type": "application/json" },
            body: JSON.stringify({
              batch: { message: "Hi", segments: [{ groupTag: "vip" }], scheduledAt: "2026-06-01T14:00:00Z" },
            }),
          })
        ).json()) as any
      ).data.id as string;
    const status = async (url: string, id: string) =>
      (
        (await (
          await fetch(`${url}/api/v1/batches/${id}`, { headers: { authorization: "Bearer sandbox-token" } })
        ).json()) as any
      ).data.attributes.status;
    try {
      const [realId, fastId] = [await create(real.url), await create(fast.url)];

      now += 10_000;
      const after10s = [await status(real.url, realId), await status(fast.url, fastId)];
      now = Date.parse("2026-06-01T14:00:00.100Z");
      const atScheduledAt = await status(real.url, realId);

      expect(after10s).toEqual(["scheduled", "successful"]);
      expect(atScheduledAt).toBe("sending");
    } finally {
      await real.close();
      await fast.close();
    }
  });
});
