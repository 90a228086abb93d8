/**
 * The pacer never lets more than its rate of calls start in any second.
 */
import { describe, expect, it } from "vitest";
import { Pacer } from "../../functions/core/pacer.js";

/**
 * Virtual time for the pacer: `sleep` parks the caller until the test advances the clock to its
 * wake-up time, so no test waits in real time and timings are exact.
 */
class VirtualClock {
  private time = 0;
  private sleepers: { at: number; seq: number; wake: () => void }[] = [];
  private seq = 0;
  readonly now = () => this.time;
  readonly sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      this.sleepers.push({ at: this.time + Math.max(0, ms), seq: this.seq++, wake: resolve });
    });

  /** Runs until `work` settles, waking sleepers in time order. */
  async runUntil<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const done = work.finally(() => {
      settled = true;
    });
    for (let steps = 0; steps < 100_000; steps++) {
      await new Promise((resolve) => setImmediate(resolve));
      if (settled) return done;
      this.sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.sleepers.shift();
      if (!next) throw new Error("Deadlock: nothing is sleeping but the work has not finished.");
      this.time = Math.max(this.time, next.at);
      next.wake();
    }
    throw new Error("The work did not finish.");
  }
}

/** Fires `count` acquires at once; resolves with when each one was let through, in call order. */
function fire(pacer: Pacer, clock: VirtualClock, key: string, count: number): Promise<number[]> {
  return Promise.all(Array.from({ length: count }, () => pacer.acquire(key).then(() => clock.now())));
}

const startTimes = (pacer: Pacer, clock: VirtualClock, key: string, count: number) =>
  clock.runUntil(fire(pacer, clock, key, count));

/** The most starts found in any window of `windowMs` (half-open, as a sliding-window limiter counts). */
function mostStartsInAnyWindow(starts: number[], windowMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j < sorted.length && sorted[j]! < sorted[i]! + windowMs) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

const gaps = (starts: number[]) => starts.slice(1).map((t, i) => t - starts[i]!);

describe("Pacer", () => {
  it("lets the first request start at once", async () => {
    // Prepare
    const clock = new VirtualClock();
    const pacer = new Pacer({ perSecond: 9, now: clock.now, sleep: clock.sleep });

    // Act
    const starts = await startTimes(pacer, clock, "POST /x", 1);

    // Assess
    expect(starts).toEqual([0]);
  });

  it.each([1, 2, 4.5, 9, 9.5, 10])(
    "starts at most floor(%s) requests in any 1000 ms, and uses that much",
    async (perSecond) => {
      // Prepare
      const clock = new VirtualClock();
      const pacer = new Pacer({ perSecond, now: clock.now, sleep: clock.sleep });

      // Act
      const starts = await startTimes(pacer, clock, "POST /x", Math.ceil(5 * perSecond) + 3);

      // Assess
      expect(mostStartsInAnyWindow(starts, 1000)).toBe(Math.floor(perSecond));
    },
  );

  it.each([1, 4.5, 9, 9.5])("spaces starts at least 1000/%s ms apart", async (perSecond) => {
    // Prepare
    const clock = new VirtualClock();
    const pacer = new Pacer({ perSecond, now: clock.now, sleep: clock.sleep });

    // Act
    const starts = await startTimes(pacer, clock, "POST /x", 30);

    // Assess
    for (const gap of gaps(starts)) expect(gap).toBeGreaterThanOrEqual(1000 / perSecond - 1e-9);
  });

  it("paces a fractional rate of 4.5/s as 4 per second, so two workers at 4.5/s stay under PassEntry's 10", async () => {
    // Prepare
    const clock = new VirtualClock();
    const pacer = new Pacer({ perSecond: 4.5, now: clock.now, sleep: clock.sleep });

    // Act
    const starts = await startTimes(pacer, clock, "POST /x", 40);

    // Assess
    expect(mostStartsInAnyWindow(starts, 1000)).toBe(4);
    for (const gap of gaps(starts)) expect(gap).toBeGreaterThanOrEqual(1000 / 4.5 - 1e-9);
    const twoWorkers = [...starts, ...starts];
    expect(mostStartsInAnyWindow(twoWorkers, 1000)).toBeLessThanOrEqual(8);
  });

  it("keeps a 10 % margin under PassEntry's limit of 10 per sliding second when paced at 9/s", async () => {
    // Prepare
    const clock = new VirtualClock();
    const pacer = new Pacer({ perSecond: 9, now: clock.now, sleep: clock.sleep });

    // Act
    const starts = await startTimes(pacer, clock, "POST /x", 50);

    // Assess: 9 per window even if network jitter stretched the window by a few percent.
    expect(mostStartsInAnyWindow(starts, 1030)).toBeLessThanOrEqual(9);
  });

  it("never compresses later gaps when a sleep wakes up late", async () => {
    // Prepare: every sleep overshoots by 50 ms, as a busy event loop might.
    let time = 0;
    const pacer = new Pacer({
      perSecond: 5,
      now: () => time,
      sleep: async (ms) => {
        time += ms + 50;
      },
    });

    // Act
    const starts: number[] = [];
    for (let i = 0; i < 12; i++) {
      await pacer.acquire("POST /x");
      starts.push(time);
    }

    // Assess
    for (const gap of gaps(starts)) expect(gap).toBeGreaterThanOrEqual(200);
    expect(mostStartsInAnyWindow(starts, 1000)).toBeLessThanOrEqual(5);
  });

  it("lets a request under another key start without waiting for a busy key", async () => {
    // Prepare
    const clock = new VirtualClock();
    const pacer = new Pacer({ perSecond: 2, now: clock.now, sleep: clock.sleep });
    const busy = Array.from({ length: 6 }, () => pacer.acquire("POST /api/v1/entities/:id/messaging/wallet"));

    // Act
    let otherStartedAt: number | undefined;
    const other = pacer.acquire("GET /api/v1/batches/:id").then(() => (otherStartedAt = clock.now()));
    await clock.runUntil(Promise.all([...busy, other]));

    // Assess
    expect(otherStartedAt).toBe(0);
    expect(clock.now()).toBeGreaterThanOrEqual(2500);
  });

  it("paces each key on its own schedule", async () => {
    // Prepare
    const clock = new VirtualClock();
    const pacer = new Pacer({ perSecond: 4, now: clock.now, sleep: clock.sleep });

    // Act
    const [a, b] = await clock.runUntil(Promise.all([fire(pacer, clock, "A", 8), fire(pacer, clock, "B", 8)]));

    // Assess
    expect(a).toEqual(b);
    expect(mostStartsInAnyWindow([...a!, ...b!], 1000)).toBe(8);
  });

  it("serves callers of one key in the order they asked", async () => {
    // Prepare
    const clock = new VirtualClock();
    const pacer = new Pacer({ perSecond: 3, now: clock.now, sleep: clock.sleep });
    const order: number[] = [];

    // Act
    await clock.runUntil(
      Promise.all(Array.from({ length: 10 }, (_, i) => pacer.acquire("POST /x").then(() => order.push(i)))),
    );

    // Assess
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("serves a caller who arrives later after every earlier caller", async () => {
    // Prepare
    const clock = new VirtualClock();
    const pacer = new Pacer({ perSecond: 2, now: clock.now, sleep: clock.sleep });
    const order: string[] = [];
    const early = ["e1", "e2", "e3"].map((name) => pacer.acquire("POST /x").then(() => order.push(name)));

    // Act: a late caller arrives while the early ones are still waiting.
    const late = clock.sleep(100).then(() => pacer.acquire("POST /x").then(() => order.push("late")));
    await clock.runUntil(Promise.all([...early, late]));

    // Assess
    expect(order).toEqual(["e1", "e2", "e3", "late"]);
  });

  it.each([0, -1, Number.NaN])("refuses a rate of %s per second", (perSecond) => {
    // Act
    const build = () => new Pacer({ perSecond });

    // Assess
    expect(build).toThrow(RangeError);
  });
});
