/**
 * The table of outstanding activation challenges on its own (no TPM): single
 * use, expiry on an injected clock, a bounded table under a flood.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { randomBytes } from "@veritee/core";
import fc from "fast-check";
import { ACTIVATION_CHALLENGE_DEFAULTS, ActivationChallenges, AttestationError } from "../../src/index.js";

const refused = (code: string) => (e: unknown) => e instanceof AttestationError && e.code === code;

describe("activation challenges", () => {
  test("issued once, taken once; unknown nonces are refused", () => {
    const table = new ActivationChallenges();
    const nonce = randomBytes(32);
    assert.throws(() => table.take(nonce), refused("activation-unknown"));
    table.issue(nonce);
    table.take(nonce);
    assert.throws(() => table.take(nonce), refused("activation-unknown"));
    assert.equal(table.size, 0);
  });

  test("expiry on the injected clock: 60 s by default, and a clock that went backwards fails closed", () => {
    let now = 1_000_000;
    const table = new ActivationChallenges({ now: () => now });
    const [a, b, c] = [randomBytes(16), randomBytes(16), randomBytes(16)];
    table.issue(a);
    table.issue(b);
    table.issue(c);
    now += ACTIVATION_CHALLENGE_DEFAULTS.ttlMs;
    table.take(a);
    now += 1;
    assert.throws(() => table.take(b), refused("activation-expired"));
    assert.throws(() => table.take(b), refused("activation-unknown"), "an expired challenge is gone too");
    now -= 120_000;
    assert.throws(() => table.take(c), refused("activation-expired"));
  });

  test("a flood of attestations never grows the table past its bound; the newest stay usable", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 200 }), (max, issued) => {
        const table = new ActivationChallenges({ maxOutstanding: max });
        const nonces = Array.from({ length: issued }, () => randomBytes(16));
        for (const n of nonces) {
          table.issue(n);
          assert.ok(table.size <= max);
        }
        const kept = Math.min(max, issued);
        for (const n of nonces.slice(issued - kept)) table.take(n);
        for (const n of nonces.slice(0, issued - kept))
          assert.throws(() => table.take(n), refused("activation-unknown"));
      }),
      { numRuns: 100 },
    );
  });

  test("expired challenges are swept when new ones are issued; re-attesting a nonce keeps one entry", () => {
    let now = 0;
    const table = new ActivationChallenges({ now: () => now, ttlMs: 10 });
    for (let i = 0; i < 50; i++) table.issue(randomBytes(16));
    now = 11;
    const nonce = randomBytes(16);
    table.issue(nonce);
    table.issue(nonce);
    assert.equal(table.size, 1);
  });

  test("bad bounds are refused at creation", () => {
    for (const options of [{ ttlMs: 0 }, { ttlMs: 1.5 }, { maxOutstanding: 0 }, { maxOutstanding: -1 }]) {
      assert.throws(() => new ActivationChallenges(options), refused("bad-argument"));
    }
  });
});
