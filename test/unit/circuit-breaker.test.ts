/**
 * During a PassEntry outage the circuit breaker opens after repeated failures, lets one trial through
 * after a cooldown that doubles while trials fail, and closes on a success, so an outage does not
 * become a storm of calls.
 */
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../functions/core/circuit-breaker.js";
import { PassEntryHttpClient } from "../../functions/adapters/passentry-http-client.js";
import { StaticSecretStore } from "../../functions/adapters/static-secret-store.js";
import { PassEntryError } from "../../functions/core/errors.js";
import { startSandbox } from "../../local/passentry-sandbox/sandbox.js";

function fakeClock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("CircuitBreaker", () => {
  it("stays closed below the threshold of consecutive outage failures", () => {
    const breaker = new CircuitBreaker({ threshold: 3 });
    breaker.recordOutageFailure();
    breaker.recordOutageFailure();
    expect(breaker.state).toBe("closed");
    expect(breaker.blockedForMs()).toBe(0);
  });

  it("opens at the threshold, lets one trial through after the cooldown, and doubles the cooldown when the trial fails", () => {
    const clock = fakeClock();
    const breaker = new CircuitBreaker({ threshold: 2, cooldownMs: 1000, maxCooldownMs: 3000, now: clock.now });
    breaker.recordOutageFailure();
    breaker.recordOutageFailure();
    expect(breaker.state).toBe("open");
    expect(breaker.blockedForMs()).toBe(1000);

    clock.advance(1000);
    expect(breaker.blockedForMs()).toBe(0); // the trial
    expect(breaker.blockedForMs()).toBeGreaterThan(0); // others wait while it runs
    breaker.recordOutageFailure();
    expect(breaker.blockedForMs()).toBe(2000);

    clock.advance(2000);
    expect(breaker.blockedForMs()).toBe(0);
    breaker.recordOutageFailure();
    expect(breaker.blockedForMs()).toBe(3000); // capped
  });

  it("closes again after a successful trial", () => {
    const clock = fakeClock();
    const breaker = new CircuitBreaker({ threshold: 1, cooldownMs: 500, now: clock.now });
    breaker.recordOutageFailure();
    clock.advance(500);
    expect(breaker.blockedForMs()).toBe(0);
    breaker.recordSuccess();
    expect(breaker.state).toBe("closed");
    expect(breaker.blockedForMs()).toBe(0);
  });
});

describe("PassEntryHttpClient during an outage", () => {
  it("stops calling PassEntry once the circuit opens, then calls again after the cooldown", async () => {
    const sandbox = await startSandbox({ rateLimitPerSecond: 1000 });
    try {
      const clock = fakeClock();
      const client = new PassEntryHttpClient({
        baseUrl: sandbox.url,
        secrets: new StaticSecretStore({ "passentry-token": "sandbox-token" }),
        ratePerSecond: 1000,
        breaker: new CircuitBreaker({ threshold: 3, cooldownMs: 10_000, now: clock.now }),
      });
      sandbox.setFaults({ errorRate: 1 });

      const errors: PassEntryError[] = [];
      for (let i = 0; i < 8; i++) errors.push(await client.getBatch("nope").catch((e) => e));

      expect(sandbox.requests()).toHaveLength(3);
      expect(errors.slice(3).every((e) => e.details.circuitOpen === true && e.details.outcomeKnown)).toBe(true);
      expect(errors[3]!.message).toMatch(/circuit open/);

      sandbox.setFaults({ errorRate: 0 });
      clock.advance(10_000);
      const answer = await client.getBatch("nope").catch((e) => e);
      expect(answer).toBeInstanceOf(PassEntryError);
      expect((answer as PassEntryError).details.status).toBe(404);
      expect(sandbox.requests()).toHaveLength(4);
    } finally {
      await sandbox.close();
    }
  });
});
