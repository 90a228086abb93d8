/**
 * The README's quick start, run as written: its first code block starts the stack (`npm install`,
 * `npm start`: this test runs `npm start`'s entry point itself, with a fresh data folder and free
 * ports), and every other `bash` block of the section is pasted into bash as is. Only two things
 * are rewritten, so that the test never touches a developer's own stack: the address
 * `http://127.0.0.1:3000` and the folder `.data/`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The `bash` blocks of the README's "Quick start" section, in order. */
function quickStartBlocks(readme: string): string[] {
  const start = readme.indexOf("## Quick start");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const blocks = quickStartBlocks(readme);
let child: ChildProcess;
let output = "";
let url = "";
let dataDir = "";

beforeAll(async () => {
  dataDir = join(mkdtempSync(join(tmpdir(), "wm-readme-")), ".data");
  child = spawn(process.execPath, ["--import", "tsx", "local/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: "0",
      SANDBOX_PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      API_KEYS: "",
      PASSENTRY_BASE_URL: "",
      PASSENTRY_TOKEN: "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const found = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (found) {
        clearInterval(timer);
        resolve(found);
      }
    }, 50);
    child.once("exit", (code) => {
      clearInterval(timer);
      reject(new Error(`npm start exited early (${code}):\n${output}`));
    });
  });
}, 60_000);

afterAll(async () => {
  const exited = new Promise((resolve) => child?.once("exit", resolve));
  child?.kill("SIGTERM");
  await exited;
  rmSync(join(dataDir, ".."), { recursive: true, force: true });
});

/** Pastes one block into bash, against this test's stack. */
function paste(block: string): { status: number | null; out: string } {
  const script = block.replaceAll("http://127.0.0.1:3000", url).replaceAll(".data/", `${dataDir}/`);
  const run = spawnSync("bash", ["-eo", "pipefail", "-c", script], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, WALLET_API_URL: url, WALLET_API_KEY: "", DATA_DIR: dataDir },
    timeout: 120_000,
  });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

describe("the README's quick start", () => {
  it("is at most about 60 lines, starts with npm install and npm start, and the banner shows the console, the key and the sandbox clock", () => {
    const section = readme.slice(
      readme.indexOf("## Quick start"),
      readme.indexOf("\n## ", readme.indexOf("## Quick start") + 1),
    );
    expect(section.split("\n").length).toBeLessThanOrEqual(62);
    expect(blocks[0]!.trim().split("\n")).toEqual(["npm install", "npm start"]);
    expect(output).toMatch(/console: +http:\/\/127\.0\.0\.1:\d+\//);
    expect(output).toMatch(/API key: +dev_\S+ \(an operator key/);
    expect(output).toContain("sandbox clock: real time");
  });

  it("sends now and watches it until its batch finished (block 2)", () => {
    const result = paste(blocks[1]!);

    expect(result.status, result.out).toBe(0);
    expect(result.out).toMatch(/part 0: batch \S+, successful/);
    expect(result.out).toContain("Settled: every batch finished.");
  }, 120_000);

  it("schedules one and cancels it before it goes out (block 4)", () => {
    const result = paste(blocks[2]!);

    expect(result.status, result.out).toBe(0);
    expect(result.out).toContain("Cancellation recorded.");
    expect(result.out).toContain("Settled: it is cancelled.");
  }, 120_000);

  it("sends with curl and a recipients file, and lists the requests (block 5)", () => {
    const result = paste(blocks[3]!);

    expect(result.status, result.out).toBe(0);
    expect(result.out).toContain('"type":"walletMessageRequest"');
    expect(result.out).toMatch(/Accepted: request [0-9a-f-]{36}/);
    expect(result.out).toMatch(/"links":\{"self":"\/api\/v1\/requests\?limit=5","next":/);
    expect(result.out).toMatch(/submitted|queued/);
  }, 120_000);

  it("has no other code block: every command the quick start shows is run here", () => {
    expect(blocks).toHaveLength(4);
  });
});
