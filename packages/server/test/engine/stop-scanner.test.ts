/**
 * StopScanner: OpenAI stop semantics over arbitrarily chunked text. The
 * property tests compare against the definition (cut the whole text at the
 * earliest occurrence of any stop string) for every way of splitting it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { StopScanner } from "../../src/engine/stop-scanner.js";
import { isWellFormed } from "./helpers.js";

/** Feed `chunks`, returning every emission and whether a stop completed. */
function run(stops: readonly string[], chunks: readonly string[]): { emitted: string[]; stopped: boolean } {
  const scanner = new StopScanner(stops);
  const emitted: string[] = [];
  for (const chunk of chunks) {
    const scan = scanner.push(chunk);
    emitted.push(scan.emit);
    if (scan.stopped) return { emitted, stopped: true };
  }
  emitted.push(scanner.flush());
  return { emitted, stopped: false };
}

/**
 * The definition: generation stops as soon as any non-empty stop string is
 * complete — at the match that ends first (ties: the one that starts first,
 * i.e. the longest) — and the text before that match is the completion. A
 * generator cannot wait for a longer, earlier-starting stop string to
 * complete once another one has: it has already stopped (found by fast-check:
 * "ai\n" with stops ["ai\n", "i"] must stop at "i").
 */
function expected(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  let cut = -1;
  let end = -1;
  for (const stop of stops) {
    if (stop.length === 0) continue;
    const at = text.indexOf(stop);
    if (at < 0) continue;
    const stopEnd = at + stop.length;
    if (end < 0 || stopEnd < end || (stopEnd === end && at < cut)) {
      cut = at;
      end = stopEnd;
    }
  }
  return cut < 0 ? { text, stopped: false } : { text: text.slice(0, cut), stopped: true };
}

/** Split `text` at the given (sorted, deduplicated) cut points. */
function split(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let at = 0;
  for (const p of points) {
    parts.push(text.slice(at, p));
    at = p;
  }
  parts.push(text.slice(at));
  return parts;
}

// A small alphabet makes stop strings occur, overlap and half-occur often.
const letter = fc.constantFrom("a", "b", "L", "i", "l", "y", " ", "\n", "é", "日", "😀");
const text = fc.array(letter, { maxLength: 40 }).map((a) => a.join(""));
const stop = fc.array(letter, { minLength: 0, maxLength: 5 }).map((a) => a.join(""));

describe("StopScanner", () => {
  test("cuts before the stop string and emits no part of it", () => {
    const s = new StopScanner(["Lily"]);
    assert.deepEqual(s.push("her name was Li"), { emit: "her name was ", stopped: false });
    assert.deepEqual(s.push("ly. She"), { emit: "", stopped: true });
    assert.equal(s.flush(), "");
    assert.deepEqual(s.push("more"), { emit: "", stopped: true });
  });

  test("releases held text once it can no longer start a stop string", () => {
    const s = new StopScanner(["Lilac"]);
    assert.deepEqual(s.push("Lil"), { emit: "", stopped: false });
    assert.deepEqual(s.push("y"), { emit: "Lily", stopped: false });
    assert.equal(s.flush(), "");
  });

  test("flush releases a held prefix that never completed", () => {
    const s = new StopScanner(["\nUser:"]);
    assert.deepEqual(s.push("end.\nUs"), { emit: "end.", stopped: false });
    assert.equal(s.flush(), "\nUs");
  });

  test("the earliest occurrence wins among several stop strings", () => {
    assert.deepEqual(run(["cd", "bcx", "b"], ["ab", "cd"]), { emitted: ["a"], stopped: true });
    // "yz" is listed first and completes at the same time, but "xyz" starts earlier.
    assert.deepEqual(run(["yz", "xyz"], ["wxy", "z"]), { emitted: ["w", ""], stopped: true });
  });

  test("empty stop strings are ignored; no stops pass everything through", () => {
    assert.deepEqual(run(["", ""], ["abc", "def"]), { emitted: ["abc", "def", ""], stopped: false });
    assert.deepEqual(run([], ["abc"]), { emitted: ["abc", ""], stopped: false });
  });

  test("never splits a surrogate pair", () => {
    // A (malformed) stop string that starts with a lone low surrogate must not cut an emoji in half.
    const s = new StopScanner(["\uDE00x"]);
    const scan = s.push("a😀");
    assert.ok(isWellFormed(scan.emit));
    assert.equal(scan.emit + s.flush(), "a😀");
  });

  test("property: any chunking gives the definition's output, and emissions only ever grow it", () => {
    fc.assert(
      fc.property(text, fc.array(stop, { maxLength: 4 }), fc.array(fc.nat(), { maxLength: 12 }), (t, stops, cuts) => {
        const want = expected(t, stops);
        const got = run(stops, split(t, cuts));
        assert.equal(got.emitted.join(""), want.text);
        assert.equal(got.stopped, want.stopped);
        // Every prefix of the emissions is a prefix of the final output: nothing is ever retracted.
        let sofar = "";
        for (const e of got.emitted) {
          sofar += e;
          assert.ok(want.text.startsWith(sofar));
        }
      }),
      { numRuns: 3000 },
    );
  });

  test("property: single-character chunks (worst case for hold-back) agree with one chunk", () => {
    fc.assert(
      fc.property(text, fc.array(stop, { maxLength: 4 }), (t, stops) => {
        const whole = run(stops, [t]);
        const chars = run(stops, [...t]);
        assert.equal(chars.emitted.join(""), whole.emitted.join(""));
        assert.equal(chars.stopped, whole.stopped);
      }),
      { numRuns: 2000 },
    );
  });
});
