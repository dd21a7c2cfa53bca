/**
 * `Responder.sealedSize`: a server announces a whole sealed response's
 * `content-length` before sealing it, so the announced size must be exactly
 * what `sealResponse` produces — for both suites, every head, and body
 * lengths around the 64 KiB frame boundary.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { ResponseHead } from "../src/head.js";
import { nodeBackend } from "../src/node/backend.js";
import { openRequest, sealRequest } from "../src/request.js";
import { openResponse } from "../src/response.js";
import { MAX_FRAME_PLAINTEXT } from "../src/wire.js";
import { serverKey, text } from "./support.js";

const META = { method: "POST", path: "/v1/completions", contentType: "application/json" } as const;

async function responder(aeadId: number) {
  const { target, recipient } = serverKey();
  const sealed = await sealRequest(target, { ...META, body: text("{}") }, { backend: nodeBackend, aeadId });
  const opened = await openRequest(recipient, sealed.sealed);
  return { context: sealed.context, responder: opened.responder };
}

const HEAD: ResponseHead = { status: 200, headers: { "content-type": "application/json" } };

describe("sealed response size", () => {
  for (const aeadId of [1, 3]) {
    test(`AEAD ${aeadId}: the announced size is the sealed size, at and around the frame boundary`, async () => {
      for (const length of [
        0,
        1,
        100,
        MAX_FRAME_PLAINTEXT - 1,
        MAX_FRAME_PLAINTEXT,
        MAX_FRAME_PLAINTEXT + 1,
        200_000,
      ]) {
        const { context, responder: r } = await responder(aeadId);
        const body = new Uint8Array(length).fill(0x61);
        const announced = r.sealedSize(HEAD, length);
        const bytes = await r.sealResponse(HEAD, body);
        assert.equal(bytes.length, announced, `length ${length}`);
        const opened = await openResponse(context, bytes);
        assert.equal(opened.body.length, length);
      }
    });
  }

  test("property: any head and body length", async () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
    const value = fc.stringMatching(/^[\x21-\x7e]{0,40}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 100, max: 599 }),
        fc.dictionary(name, value, { maxKeys: 5 }),
        fc.nat({ max: 3 * MAX_FRAME_PLAINTEXT }),
        fc.constantFrom(1, 3),
        async (status, headers, length, aeadId) => {
          const { responder: r } = await responder(aeadId);
          const head = { status, headers };
          assert.equal((await r.sealResponse(head, new Uint8Array(length))).length, r.sealedSize(head, length));
        },
      ),
      { numRuns: 40 },
    );
  });

  test("a head outside the format, or a length that is not one, is refused", async () => {
    const { responder: r } = await responder(1);
    assert.throws(() => r.sealedSize({ status: 99, headers: {} }, 0), RangeError);
    assert.throws(() => r.sealedSize({ status: 200, headers: { "Bad Name": "x" } }, 0), RangeError);
    for (const length of [-1, 1.5, Number.NaN, 2 ** 60]) assert.throws(() => r.sealedSize(HEAD, length), RangeError);
    // Sizing does not use up the responder: it still seals its one response.
    await r.sealResponse(HEAD, text("still usable"));
  });
});
