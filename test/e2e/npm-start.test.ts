/**
 * `npm start` as a new user runs it: a child process with a fresh data directory, driven by the curl
 * it prints, stopped with SIGTERM. Ports are 0 so the test never collides with anything.
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { nowSeconds, standardWebhookHeaders } from "../security/webhook-support.js";

function startMain(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  stdout: () => string;
  ready: Promise<{ url: string; key: string }>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", "local/main.ts"], {
    env: {
      ...process.env,
      PORT: "0",
      SANDBOX_PORT: "0",
      HOST: "127.0.0.1",
      API_KEYS: "",
      PASSENTRY_BASE_URL: "",
      PASSENTRY_TOKEN: "",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let stdoutOnly = "";
  child.stdout!.on("data", (d) => {
    out += d;
    stdoutOnly += d;
  });
  child.stderr!.on("data", (d) => (out += d));
  const ready = new Promise<{ url: string; key: string }>((resolve, reject) => {
    const timer = setInterval(() => {
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      const key = /API key:\s+(\S+)/.exec(out)?.[1];
      if (url && key) {
        clearInterval(timer);
        resolve({ url, key });
      }
    }, 50);
    child.once("exit", (code) => {
      clearInterval(timer);
      reject(new Error(`npm start exited early (${code}):\n${out}`));
    });
  });
  return { child, output: () => out, stdout: () => stdoutOnly, ready };
}

describe("npm start", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it("serves the printed curl, delivers to the sandbox, and stops cleanly on SIGTERM", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "wm-start-"));
    const { child, output, ready } = startMain({ DATA_DIR: dataDir });
    cleanups.push(() => {
      child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    });
    const { url, key } = await ready;

    const answer = await fetch(`${url}/api/v1/entities/my-entity/messaging/wallet`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({
        batch: {
          message: "Hello, World!",
          segments: [{ groupTag: "summerPromotion" }],
          scheduledAt: "2030-03-31T13:16:26Z",
        },
      }),
    });
    const accepted = (await answer.json()) as any;
    let view: any;
    for (let i = 0; i < 100; i++) {
      view = await (await fetch(url + accepted.links.self, { headers: { authorization: `Bearer ${key}` } })).json();
      if (view.data.attributes.status !== "queued") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");

    expect(answer.status).toBe(202);
    expect(view.data.attributes.status).toBe("submitted");
    expect(view.data.attributes.batchId).toMatch(/[0-9a-f-]{36}/);
    expect(await exited).toBe(0);
    expect(output()).toContain("stopped.");
    expect(output()).toContain("curl -s -X POST");
  });

  it("prints an operator key, which reads a signer's request, and keeps it and the data private (0600 in a 0700 folder)", async () => {
    // Prepare: a signer is configured next to the generated key.
    const dataDir = join(mkdtempSync(join(tmpdir(), "wm-start-")), "data");
    const secret = `whsec_${Buffer.from("npm-start-signing-secret-01").toString("base64")}`;
    const { child, ready } = startMain({ DATA_DIR: dataDir, WEBHOOK_SIGNING_SECRETS: `shop:${secret}` });
    cleanups.push(() => {
      child.kill("SIGKILL");
      rmSync(dirname(dataDir), { recursive: true, force: true });
    });
    const { url, key } = await ready;
    const body = JSON.stringify({
      batch: { message: "Signed", segments: [{ groupTag: "vip" }], scheduledAt: "2030-03-31T13:16:26Z" },
    });

    // Act
    const signed = await fetch(`${url}/api/v1/entities/my-entity/messaging/wallet`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...standardWebhookHeaders(secret, "msg_npm_start", nowSeconds(), body),
      },
      body,
    });
    const accepted = (await signed.json()) as any;
    const view = await fetch(url + accepted.links.self, { headers: { authorization: `Bearer ${key}` } });

    // Assess
    expect(signed.status).toBe(202);
    expect(view.status).toBe(200);
    expect(((await view.json()) as any).data.attributes.caller).toBe("signer:shop");
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, "dev-api-key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, "wallet-messaging.db")).mode & 0o777).toBe(0o600);
  });

  it("refuses to start with a sentence naming the variable when the configuration is wrong", async () => {
    const { child, output, ready } = startMain({ PORT: "not-a-port" });
    cleanups.push(() => child.kill("SIGKILL"));
    await expect(ready).rejects.toThrow(/exited early \(1\)/);
    expect(output()).toMatch(/PORT/);
  });

  it("names a taken port and what to do instead of printing a stack trace", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const dataDir = mkdtempSync(join(tmpdir(), "wm-start-"));
    const { child, output, ready } = startMain({ DATA_DIR: dataDir, PORT: String(port) });
    cleanups.push(() => {
      child.kill("SIGKILL");
      blocker.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    await expect(ready).rejects.toThrow(/exited early \(1\)/);
    expect(output()).toContain(`127.0.0.1:${port} is already in use`);
    expect(output()).toContain("PORT=<port> npm start");
    expect(output()).not.toMatch(/\n\s+at /);
  });

  it("writes only JSON log lines to stdout when piped (npm start --silent | jq), the banner to stderr", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "wm-start-"));
    const { child, ready, stdout } = startMain({ DATA_DIR: dataDir });
    cleanups.push(() => {
      child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    });
    const { url, key } = await ready;

    await fetch(`${url}/api/v1/entities/my-entity/messaging/wallet`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({
        batch: { message: "Piped", segments: [{ groupTag: "vip" }], scheduledAt: "2030-03-31T13:16:26Z" },
      }),
    });
    await new Promise((r) => setTimeout(r, 500));
    const lines = stdout()
      .split("\n")
      .filter((l) => l.trim() !== "");

    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(stdout()).not.toContain("listening on");
  });

  it("keeps serving when whatever reads its logs goes away (npm start | head -1), and says so on stderr", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "wm-start-"));
    const { child, ready, output } = startMain({ DATA_DIR: dataDir });
    cleanups.push(() => {
      child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    });
    const { url, key } = await ready;
    let exited = false;
    child.once("exit", () => (exited = true));

    // The reader closes its end of the pipe: the next log line meets EPIPE.
    child.stdout!.destroy();
    for (let i = 0; i < 3; i++) {
      const answer = await fetch(`${url}/api/v1/entities/my-entity/messaging/wallet`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({
          batch: { message: `Unread ${i}`, segments: [{ groupTag: "vip" }], scheduledAt: "2030-03-31T13:16:26Z" },
        }),
      });
      expect(answer.status).toBe(202);
      await new Promise((r) => setTimeout(r, 200));
    }

    expect(exited, output()).toBe(false);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(output()).toMatch(/logs .*no longer written/i);
  });

  it("prints only JSON lines on stdout under npm start --silent, so the README's pipe into jq parses", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "wm-start-"));
    const child = spawn("npm", ["start", "--silent"], {
      env: { ...process.env, PORT: "0", SANDBOX_PORT: "0", API_KEYS: "", PASSENTRY_BASE_URL: "", DATA_DIR: dataDir },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    cleanups.push(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      rmSync(dataDir, { recursive: true, force: true });
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const deadline = Date.now() + 30_000;
    while (!/listening on (http:\/\/\S+)/.test(stderr) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const url = /listening on (http:\/\/\S+)/.exec(stderr)![1]!;
    const key = /API key:\s+(\S+)/.exec(stderr)![1]!;
    await fetch(`${url}/api/v1/entities/my-entity/messaging/wallet`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ batch: { message: "Piped", segments: [{ groupTag: "vip" }] } }),
    });
    await new Promise((r) => setTimeout(r, 500));

    const lines = stdout.split("\n").filter((l) => l.trim() !== "");
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
  });
});
