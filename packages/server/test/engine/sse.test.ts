/**
 * SseParser against the WHATWG event-stream rules, and its robustness to the
 * transport: the same bytes split at any boundary give the same events.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MalformedError } from "@veritee/core";
import fc from "fast-check";
import { type SseEvent, SseParser } from "../../src/engine/sse.js";

const utf8 = new TextEncoder();

function parseChunks(chunks: readonly Uint8Array[], max?: number): SseEvent[] {
  const parser = new SseParser(max);
  const events: SseEvent[] = [];
  for (const c of chunks) events.push(...parser.push(c));
  events.push(...parser.end());
  return events;
}

function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

// An OpenAI-style stream with every syntax feature: BOM, comments, CRLF / CR / LF
// line ends, multi-line data, a named event, an id, a field without colon,
// multi-byte characters (2-, 3- and 4-byte UTF-8), and an unfinished last event.
const SAMPLE =
  "\uFEFF: keep-alive comment\r\n" +
  'data: {"choices":[{"index":0,"delta":{"content":"Once"}}]}\r\n\r\n' +
  'data:{"choices":[{"index":0,"delta":{"content":" é日😀"}}]}\n\n' +
  "event: ping\rid: 7\rdata: line one\rdata:  line two\r\r" +
  "retry: 100\nunknown: x\ndata\n\n" +
  ": only a comment, no event\n\n" +
  "data: [DONE]\n\n" +
  "data: never dispatched";

const SAMPLE_EVENTS: SseEvent[] = [
  { event: "message", data: '{"choices":[{"index":0,"delta":{"content":"Once"}}]}', id: "" },
  { event: "message", data: '{"choices":[{"index":0,"delta":{"content":" é日😀"}}]}', id: "" },
  { event: "ping", data: "line one\n line two", id: "7" },
  { event: "message", data: "", id: "7" },
  { event: "message", data: "[DONE]", id: "7" },
];

describe("SseParser", () => {
  test("parses every feature of the event-stream format", () => {
    assert.deepEqual(parseChunks([utf8.encode(SAMPLE)]), SAMPLE_EVENTS);
  });

  test("the same stream split at every single byte boundary, and into single bytes", () => {
    const bytes = utf8.encode(SAMPLE);
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(parseChunks([bytes.subarray(0, cut), bytes.subarray(cut)]), SAMPLE_EVENTS, `cut at ${cut}`);
    }
    assert.deepEqual(parseChunks([...bytes].map((b) => Uint8Array.of(b))), SAMPLE_EVENTS);
  });

  test("a CR at the end of a chunk waits for a possible LF; a CR at the end of the stream ends the line", () => {
    const p = new SseParser();
    assert.deepEqual(p.push("data: a\r"), []);
    assert.deepEqual(p.push("\n"), []);
    assert.deepEqual(p.push("\r"), []);
    assert.deepEqual(p.end(), [{ event: "message", data: "a", id: "" }]);
  });

  test("an id containing NUL is ignored (§9.2.6)", () => {
    assert.deepEqual(parseChunks([utf8.encode("id: 1\n\nid: a\0b\ndata: x\n\n")]), [
      { event: "message", data: "x", id: "1" },
    ]);
  });

  test("a line or event beyond the bound is malformed", () => {
    assert.throws(
      () => parseChunks([utf8.encode(`data: ${"x".repeat(100)}`)], 64),
      (e: unknown) => {
        return e instanceof MalformedError && e.code === "too-large";
      },
    );
    const many = "data: 0123456789\n".repeat(10);
    assert.throws(() => parseChunks([utf8.encode(many)], 64), MalformedError);
    assert.equal(parseChunks([utf8.encode(`${many}\n`)], 1000).length, 1);
  });

  const field = fc.constantFrom("data", "event", "id", "retry", "other", "");
  const value = fc.string({ unit: fc.constantFrom("a", " ", ":", "é", "日", "😀", "{", "}", "0"), maxLength: 12 });
  const eol = fc.constantFrom("\n", "\r", "\r\n");
  const line = fc.oneof(
    fc.tuple(field, value).map(([f, v]) => (f === "" ? `:${v}` : `${f}:${v}`)),
    field.filter((f) => f !== ""),
    fc.constant(""),
  );
  const stream = fc.array(fc.tuple(line, eol), { maxLength: 30 }).map((ls) => ls.map(([l, e]) => l + e).join(""));

  test("property: arbitrary chunking of a generated stream gives the same events", () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 20 }), (s, cuts) => {
        const bytes = utf8.encode(s);
        assert.deepEqual(parseChunks(splitAt(bytes, cuts)), parseChunks([bytes]));
      }),
      { numRuns: 3000 },
    );
  });

  test("property: random bytes yield events or MalformedError, nothing else", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        try {
          for (const e of parseChunks(chunks, 128)) assert.equal(typeof e.data, "string");
        } catch (error) {
          assert.ok(error instanceof MalformedError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
