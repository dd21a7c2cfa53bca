/** Base URLs as the `openai` package takes them, normalized; and the only URLs session.fetch sends to. */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ClientError } from "../src/errors.js";
import { isUnderApiRoot, resolveServerAddress } from "../src/url.js";

test("the /v1 suffix is added when missing, trailing slashes dropped, default ports filled in", () => {
  for (const [input, apiRoot] of [
    ["http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"],
    ["http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1"],
    ["http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"],
    ["http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1"],
    ["https://example.com/api/v1", "https://example.com/api/v1"],
    ["https://example.com/api", "https://example.com/api/v1"],
    ["HTTPS://EXAMPLE.com:443/v1", "https://example.com/v1"],
  ] as const) {
    assert.equal(resolveServerAddress(input).apiRoot, apiRoot, input);
  }
  const a = resolveServerAddress("https://[::1]/v1");
  assert.deepEqual([a.hostname, a.port, a.https], ["::1", 443, true]);
  const b = resolveServerAddress("http://localhost");
  assert.deepEqual([b.hostname, b.port, b.https], ["localhost", 80, false]);
});

test("credentials, queries, fragments and other schemes are refused before any request", () => {
  for (const bad of [
    "not a url",
    "ftp://example.com/v1",
    "file:///etc/passwd",
    "http://user:secret@example.com/v1",
    "http://example.com/v1?x=1",
    "http://example.com/v1#frag",
  ]) {
    assert.throws(
      () => resolveServerAddress(bad),
      (e: unknown) => e instanceof ClientError && e.code === "invalid-options" && !e.message.includes("secret"),
      bad,
    );
  }
});

test("only URLs at or below the API root are the attested server's", () => {
  const address = resolveServerAddress("http://127.0.0.1:8080/v1");
  const yes = [
    "http://127.0.0.1:8080/v1",
    "http://127.0.0.1:8080/v1/chat/completions",
    "http://127.0.0.1:8080/v1/models?x",
  ];
  const no = [
    "http://127.0.0.1:8081/v1/models",
    "https://127.0.0.1:8080/v1/models",
    "http://127.0.0.2:8080/v1/models",
    "http://127.0.0.1:8080/v10/models",
    "http://127.0.0.1:8080/metrics",
    "http://127.0.0.1:8080/v1/../metrics",
  ];
  for (const u of yes) assert.ok(isUnderApiRoot(address, new URL(u)), u);
  for (const u of no) assert.ok(!isUnderApiRoot(address, new URL(u)), u);
});

test("property: any string either yields a normalized http(s) API root ending in /v1 or a ClientError", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.webUrl({ withQueryParameters: true, withFragments: true })), (input) => {
      try {
        const a = resolveServerAddress(input);
        assert.match(a.apiRoot, /^https?:\/\/[^/]+(\/.*)?\/v1$/);
        assert.ok(isUnderApiRoot(a, new URL(`${a.apiRoot}/models`)));
      } catch (error) {
        assert.ok(error instanceof ClientError, String(error));
      }
    }),
    { numRuns: 500 },
  );
});
