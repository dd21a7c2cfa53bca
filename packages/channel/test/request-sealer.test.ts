/**
 * The request sealer of a client session: the same sealed requests as
 * `sealRequest`, with the next HPKE encapsulation prepared while a request is
 * out. What must hold: every request still gets its own, fresh encapsulation
 * (never one twice), a prepared one is used by exactly one request, a request
 * outside the format consumes none, a closed sealer seals nothing, and its
 * requests open, bind their request line and answer like any other.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import type { KemInterface, SenderContextParams } from "@hpke/core";
import { toHex } from "@veritee/core";
import type { HpkeBackend } from "../src/backend.js";
import { nodeBackend } from "../src/node/backend.js";
import { openRequest } from "../src/request.js";
import { createRequestSealer } from "../src/request-sealer.js";
import { openResponse } from "../src/response.js";
import { webCryptoBackend } from "../src/web-backend.js";
import { REQUEST_HEADER_SIZE, X25519_ENC_SIZE } from "../src/wire.js";
import { channelCode, serverKey, str, text } from "./support.js";

const META = { method: "POST", path: "/v1/completions", contentType: "application/json" } as const;

/** `backend` with its encapsulations counted (a new backend object: suites are cached per backend). */
function counting(backend: HpkeBackend): { backend: HpkeBackend; encaps: () => number } {
  let encaps = 0;
  return {
    backend: {
      ...backend,
      name: `${backend.name}-counted`,
      createKem: (): KemInterface => {
        const kem = backend.createKem();
        return new Proxy(kem, {
          get(target, property, receiver) {
            if (property === "encap") {
              return (params: SenderContextParams) => {
                encaps++;
                return target.encap(params);
              };
            }
            const value: unknown = Reflect.get(target, property, receiver);
            return typeof value === "function" ? value.bind(target) : value;
          },
        });
      },
    },
    encaps: () => encaps,
  };
}

function encOf(sealed: Uint8Array): string {
  return toHex(sealed.subarray(REQUEST_HEADER_SIZE, REQUEST_HEADER_SIZE + X25519_ENC_SIZE));
}

describe("request sealer", () => {
  for (const base of [nodeBackend, webCryptoBackend]) {
    test(`${base.name}: requests open, answers open, and every request has its own encapsulation`, async () => {
      const { target, recipient } = serverKey();
      const sealer = createRequestSealer(target, { backend: base });
      const seen = new Set<string>();
      for (let i = 0; i < 12; i++) {
        // Alternate: sometimes the prepared encapsulation is ready, sometimes the request comes first.
        if (i % 2 === 0) await tick();
        const body = text(`{"n":${i}}`);
        const sealed = await sealer.seal({ ...META, body });
        seen.add(encOf(sealed.sealed));
        const opened = await openRequest(recipient, sealed.sealed);
        assert.equal(str(opened.body), `{"n":${i}}`);
        const answer = await opened.responder.sealResponse({ status: 201, headers: {} }, text(`ok ${i}`));
        const response = await openResponse(sealed.context, answer);
        assert.equal(response.status, 201);
        assert.equal(str(response.body), `ok ${i}`);
      }
      assert.equal(seen.size, 12, "no encapsulation was used twice");
      sealer.close();
    });
  }

  test("one encapsulation is prepared after each request, and each is taken by one request only", async () => {
    const { target, recipient } = serverKey();
    const { backend, encaps } = counting(nodeBackend);
    const sealer = createRequestSealer(target, { backend });
    assert.equal(encaps(), 0, "nothing runs before the current work is done");
    await tick();
    assert.equal(encaps(), 1, "the first request's encapsulation is ready");
    const first = await sealer.seal({ ...META, body: text("a") });
    assert.equal(encaps(), 1, "the first request used the prepared one");
    await tick();
    assert.equal(encaps(), 2, "the next is prepared once the request is out");
    await tick();
    assert.equal(encaps(), 2, "one in reserve, not more");
    // Two at once: one takes the reserve, the other makes its own; neither shares.
    const [second, third] = await Promise.all([
      sealer.seal({ ...META, body: text("b") }),
      sealer.seal({ ...META, body: text("c") }),
    ]);
    assert.equal(encaps(), 3);
    const encs = new Set([first, second, third].map((s) => encOf(s.sealed)));
    assert.equal(encs.size, 3);
    for (const [sealed, body] of [
      [second, "b"],
      [third, "c"],
    ] as const) {
      assert.equal(str((await openRequest(recipient, sealed.sealed)).body), body);
    }
    sealer.close();
  });

  test("a request outside the format is refused before it takes an encapsulation", async () => {
    const { target } = serverKey();
    const { backend, encaps } = counting(nodeBackend);
    const sealer = createRequestSealer(target, { backend });
    await tick();
    assert.equal(encaps(), 1);
    await assert.rejects(sealer.seal({ ...META, headers: [["Upper-Case", "x"]] }), RangeError);
    await assert.rejects(sealer.seal({ ...META, path: "no-slash" }), RangeError);
    await assert.rejects(sealer.seal({ ...META, method: "BAD METHOD" }), RangeError);
    await tick();
    assert.equal(encaps(), 1, "the prepared encapsulation is still unused");
    await sealer.seal({ ...META, body: text("ok") });
    await tick();
    assert.equal(encaps(), 2);
    sealer.close();
  });

  test("a sealed request carries its method, path and content type inside, and is bound to its key set", async () => {
    const { target, recipient } = serverKey();
    const other = serverKey();
    const sealer = createRequestSealer(target, { backend: nodeBackend });
    const sealed = await sealer.seal({ ...META, body: text("{}") });
    assert.equal(sealed.headers["veritee-key-set"], toHex(target.keySetDigest));
    const opened = await openRequest(recipient, sealed.sealed);
    assert.equal(opened.request.method, META.method);
    assert.equal(opened.request.path, META.path);
    assert.deepEqual(opened.request.headers, [["content-type", META.contentType]]);
    assert.equal(await channelCode(openRequest(other.recipient, sealed.sealed)), "tampered");
    sealer.close();
  });

  test("GET is sealed into the body like any method; the suite follows the options", async () => {
    const { target, recipient } = serverKey();
    const sealer = createRequestSealer(target, { backend: nodeBackend, aeadId: 3 });
    assert.equal(sealer.aeadId, 3);
    const sealed = await sealer.seal({ method: "GET", path: "/v1/models" });
    assert.equal(sealed.body, sealed.sealed);
    assert.equal(sealed.context.aeadId, 3);
    const opened = await openRequest(recipient, sealed.sealed);
    assert.equal(opened.request.method, "GET");
    assert.equal(opened.body.length, 0);
    sealer.close();
  });

  test("a closed sealer seals nothing and prepares nothing; a bad target fails at creation", async () => {
    const { target } = serverKey();
    const { backend, encaps } = counting(nodeBackend);
    const sealer = createRequestSealer(target, { backend });
    sealer.close();
    sealer.close();
    await tick();
    assert.equal(encaps(), 0);
    assert.equal(await channelCode(sealer.seal({ ...META, body: text("x") })), "closed");
    await tick();
    assert.equal(encaps(), 0);
    assert.throws(
      () => createRequestSealer({ ...target, keySetDigest: new Uint8Array(31) }, { backend: nodeBackend }),
      RangeError,
    );
    assert.equal(
      await channelCode(() => createRequestSealer(target, { backend: nodeBackend, aeadId: 2 })),
      "unsupported-suite",
    );
  });

  test("a public key that does not import fails the request that needs it, with unsupported-suite", async () => {
    const { target } = serverKey();
    const bad = {
      ...target,
      keySet: { hpke: { ...target.keySet.hpke, publicKey: new Uint8Array(31) } },
    };
    const sealer = createRequestSealer(bad, { backend: nodeBackend });
    await tick();
    assert.equal(await channelCode(sealer.seal({ ...META, body: text("x") })), "unsupported-suite");
    assert.equal(await channelCode(sealer.seal({ ...META, body: text("y") })), "unsupported-suite");
    sealer.close();
  });
});
