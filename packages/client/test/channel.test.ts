/**
 * The session's channel against an in-process sealed server (the channel
 * package's own `openRequest`/`Responder`, no TPM): what goes on the wire,
 * what comes back to the caller, streaming, the unknown-key signal, and
 * every unsealed answer refused. Both HPKE backends.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import { ChannelError, KEY_SET_HEADER, openRequest, SEALED_PATH, SEALED_RESPONSE_TYPE } from "@veritee/channel";
import { nodeBackend, nodeRecipientKey } from "@veritee/channel/node";
import { toHex } from "@veritee/core";
import { type KeySet, keySetDigest, type VerifiedAttestation } from "@veritee/evidence";
import type { Appraisal } from "@veritee/policy";
import fc from "fast-check";
import { openKeySetChannel, type PinnedTransport } from "../src/channel.js";
import type { OutgoingRequest } from "../src/request.js";
import { readOutgoingRequest } from "../src/request.js";
import type { AcceptedAttestation } from "../src/session.js";
import type { FetchLike } from "../src/transport.js";
import { resolveServerAddress } from "../src/url.js";

const ADDRESS = resolveServerAddress("http://127.0.0.1:9/v1");
const TEXT = new TextEncoder();

function makeKeys() {
  const hpke = generateKeyPairSync("x25519");
  const tls = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const raw = (hpke.publicKey.export({ format: "jwk" }) as { x: string }).x;
  const keySet: KeySet = {
    tlsSpki: new Uint8Array(tls.publicKey.export({ format: "der", type: "spki" })),
    hpke: {
      keyId: 7,
      kemId: 0x0020,
      publicKey: new Uint8Array(Buffer.from(raw, "base64url")),
      cipherSuites: [
        { kdfId: 1, aeadId: 1 },
        { kdfId: 1, aeadId: 3 },
      ],
    },
  };
  const digest = keySetDigest(keySet);
  const recipient = nodeRecipientKey({ keyConfig: keySet.hpke, keySetDigest: digest, privateKey: hpke.privateKey });
  const accepted: AcceptedAttestation = {
    attestation: { keySet, keySetDigest: digest } as unknown as VerifiedAttestation,
    appraisal: { verdict: "pass", claims: [] } as unknown as Appraisal,
    keySetDigest: toHex(digest),
    verifiedAt: 0,
  };
  return { keySet, digest, recipient, accepted };
}

interface Wire {
  url: string;
  method: string;
  headers: Headers;
  body: Uint8Array;
}

type Handler = (plain: {
  method: string;
  path: string;
  body: Uint8Array;
  contentType: string;
  headers: readonly (readonly [string, string])[];
}) => {
  status: number;
  headers: Record<string, string>;
  chunks: (Uint8Array | Promise<Uint8Array>)[];
};

/** A fetch that is a sealed server: opens the request, runs `handler`, seals its answer frame by frame. */
function sealedServer(keys: ReturnType<typeof makeKeys>, handler: Handler, wire: Wire[]): FetchLike {
  return async (input, init) => {
    const request = new Request(input, init);
    const body = new Uint8Array(await request.arrayBuffer());
    wire.push({ url: request.url, method: request.method, headers: request.headers, body });
    if (request.headers.get(KEY_SET_HEADER) !== toHex(keys.digest)) {
      return Response.json({ error: { code: "sealed_key_unknown", message: "attest again" } }, { status: 421 });
    }
    const opened = await openRequest(keys.recipient, body);
    const inner = opened.request;
    const contentType = inner.headers.find(([name]) => name === "content-type")?.[1] ?? "";
    const answer = handler({
      method: inner.method,
      path: inner.path,
      body: opened.body,
      contentType,
      headers: inner.headers,
    });
    const sealer = await opened.responder.sealStream({ status: answer.status, headers: answer.headers });
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(sealer.preamble);
        for (const chunk of answer.chunks) controller.enqueue(await sealer.seal(await chunk));
        controller.enqueue(await sealer.finish());
        controller.close();
      },
    });
    return new Response(stream, { status: 200, headers: { "content-type": SEALED_RESPONSE_TYPE } });
  };
}

async function outgoing(input: string, init?: RequestInit): Promise<OutgoingRequest> {
  return readOutgoingRequest(ADDRESS, input, init);
}

const echo: Handler = (plain) => ({
  status: plain.method === "GET" ? 200 : 201,
  headers: { "content-type": "application/json" },
  chunks: [TEXT.encode(JSON.stringify({ got: new TextDecoder().decode(plain.body), type: plain.contentType }))],
});

describe("sealed channel", () => {
  for (const backend of [nodeBackend, undefined]) {
    test(`a POST round trip, ${backend ? "Node" : "WebCrypto"} backend: nothing of the body or credentials in the clear`, async () => {
      const keys = makeKeys();
      const wire: Wire[] = [];
      const seen: (readonly (readonly [string, string])[])[] = [];
      const channel = await openKeySetChannel(
        { address: ADDRESS, sealed: true, ...(backend ? { backend } : {}) },
        keys.accepted,
        sealedServer(
          keys,
          (plain) => {
            seen.push(plain.headers);
            return echo(plain);
          },
          wire,
        ),
      );
      assert.deepEqual(channel.info, { sealed: true, attestedTls: false });
      const secret = "CANARY-secret-prompt";
      const response = await channel.exchange(
        await outgoing(`${ADDRESS.apiRoot}/chat/completions?x=1`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: "Bearer sk-CANARY-key",
            accept: "application/json",
            "x-custom": "CANARY-header",
          },
          body: JSON.stringify({ prompt: secret }),
        }),
      );
      assert.ok(response instanceof Response);
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.deepEqual(await response.json(), { got: JSON.stringify({ prompt: secret }), type: "application/json" });
      const sent = wire[0]!;
      // The relay sees one fixed path and method: the real ones, the query and every header are sealed.
      assert.equal(sent.url, `${ADDRESS.origin}${SEALED_PATH}`);
      assert.equal(sent.method, "POST");
      assert.ok(!Buffer.from(sent.body).includes("CANARY"));
      assert.ok(!Buffer.from(sent.body).includes("chat/completions"));
      assert.deepEqual([...sent.headers.keys()].sort(), ["content-type", KEY_SET_HEADER]);
      for (const [, value] of sent.headers) assert.ok(!value.includes("CANARY"), value);
      assert.deepEqual(seen[0], [
        ["accept", "application/json"],
        ["authorization", "Bearer sk-CANARY-key"],
        ["content-type", "application/json"],
        ["x-custom", "CANARY-header"],
      ]);
    });
  }

  test("GET goes sealed as an outer POST to the sealed path, and its answer comes back sealed", async () => {
    const keys = makeKeys();
    const wire: Wire[] = [];
    const channel = await openKeySetChannel(
      { address: ADDRESS, sealed: true },
      keys.accepted,
      sealedServer(keys, echo, wire),
    );
    const response = (await channel.exchange(await outgoing(`${ADDRESS.apiRoot}/models`))) as Response;
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { got: "", type: "" });
    assert.equal(wire[0]!.method, "POST");
    assert.equal(wire[0]!.url, `${ADDRESS.origin}${SEALED_PATH}`);
    assert.ok(wire[0]!.body.length > 0);
  });

  test("under a base URL with a path prefix: the outer request keeps it, the sealed path is the server's own", async () => {
    const keys = makeKeys();
    const wire: Wire[] = [];
    const paths: string[] = [];
    const address = resolveServerAddress("http://127.0.0.1:9/tenant/a/v1");
    const channel = await openKeySetChannel(
      { address, sealed: true },
      keys.accepted,
      sealedServer(
        keys,
        (plain) => {
          paths.push(plain.path);
          return echo(plain);
        },
        wire,
      ),
    );
    await channel.exchange(await readOutgoingRequest(address, `${address.apiRoot}/models?x=1`));
    assert.equal(wire[0]!.url, `http://127.0.0.1:9/tenant/a${SEALED_PATH}`);
    assert.deepEqual(paths, ["/v1/models?x=1"]);
  });

  test("a streamed response is released chunk by chunk, before the server has finished", async () => {
    const keys = makeKeys();
    let release!: (b: Uint8Array) => void;
    const later = new Promise<Uint8Array>((resolve) => {
      release = resolve;
    });
    const channel = await openKeySetChannel(
      { address: ADDRESS, sealed: true, backend: nodeBackend },
      keys.accepted,
      sealedServer(
        keys,
        () => ({
          status: 200,
          headers: { "content-type": "text/event-stream" },
          chunks: [TEXT.encode("data: one\n\n"), later],
        }),
        [],
      ),
    );
    const response = (await channel.exchange(
      await outgoing(`${ADDRESS.apiRoot}/chat/completions`, { method: "POST", body: "{}" }),
    )) as Response;
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.equal(new TextDecoder().decode(first.value), "data: one\n\n");
    release(TEXT.encode("data: [DONE]\n\n"));
    const second = await reader.read();
    assert.equal(new TextDecoder().decode(second.value), "data: [DONE]\n\n");
    assert.equal((await reader.read()).done, true);
  });

  test("an answer of known length is read whole and handed over complete; a length past the bound streams", async () => {
    const keys = makeKeys();
    for (const [length, streamed] of [
      [undefined, true],
      ["exact", false],
      [String(64 * 1024 * 1024), true],
    ] as const) {
      const server = sealedServer(keys, echo, []);
      const channel = await openKeySetChannel(
        { address: ADDRESS, sealed: true, backend: nodeBackend },
        keys.accepted,
        async (input, init) => {
          const genuine = new Uint8Array(await (await server(input, init)).arrayBuffer());
          const headers: Record<string, string> = { "content-type": SEALED_RESPONSE_TYPE };
          if (length !== undefined) headers["content-length"] = length === "exact" ? String(genuine.length) : length;
          // A big declared length is only a header here: the body is what it is, and the stream path opens it.
          return new Response(genuine as Uint8Array<ArrayBuffer>, { status: 200, headers });
        },
      );
      const response = await channel.exchange(
        await outgoing(`${ADDRESS.apiRoot}/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: '{"n":1}',
        }),
      );
      assert.ok(response instanceof Response);
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.equal(response.headers.get("content-length"), null, "the outer length is not the plaintext's");
      assert.deepEqual(await response.json(), { got: '{"n":1}', type: "application/json" }, `streamed: ${streamed}`);
    }
  });

  test("a whole answer longer than its declared length is refused", async () => {
    const keys = makeKeys();
    const server = sealedServer(keys, echo, []);
    const channel = await openKeySetChannel(
      { address: ADDRESS, sealed: true, backend: nodeBackend },
      keys.accepted,
      async (input, init) => {
        const genuine = new Uint8Array(await (await server(input, init)).arrayBuffer());
        // A transport that does not enforce the length (node:http does): the client bounds it itself.
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(genuine);
            controller.enqueue(new Uint8Array(8));
            controller.close();
          },
        });
        return new Response(stream, {
          status: 200,
          headers: { "content-type": SEALED_RESPONSE_TYPE, "content-length": String(genuine.length) },
        });
      },
    );
    await assert.rejects(
      channel.exchange(await outgoing(`${ADDRESS.apiRoot}/completions`, { method: "POST", body: "{}" })),
      (e: unknown) => e instanceof ChannelError && e.code === "bad-framing",
    );
  });

  test("a server that does not hold the key set: the unknown-key signal, for the session to re-attest", async () => {
    const keys = makeKeys();
    const other = makeKeys();
    const channel = await openKeySetChannel(
      { address: ADDRESS, sealed: true },
      keys.accepted,
      sealedServer(other, echo, []),
    );
    assert.equal(
      await channel.exchange(await outgoing(`${ADDRESS.apiRoot}/completions`, { method: "POST", body: "{}" })),
      "unknown-key",
    );
  });

  test("a sealed request the server refuses as too large: a client-made 413 the openai package does not retry", async () => {
    const keys = makeKeys();
    const channel = await openKeySetChannel({ address: ADDRESS, sealed: true }, keys.accepted, async () =>
      Response.json({ error: { code: "request_too_large", message: "<relay text>" } }, { status: 413 }),
    );
    const response = await channel.exchange(
      await outgoing(`${ADDRESS.apiRoot}/completions`, { method: "POST", body: "{}" }),
    );
    assert.ok(response instanceof Response);
    assert.equal(response.status, 413);
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "request_too_large");
    assert.ok(!body.error.message.includes("relay"), "the server's unsealed text is not passed on");
  });

  test("every answer that is not sealed is refused: forged 200s, server errors, other 421s", async () => {
    const keys = makeKeys();
    const answers: (() => Response)[] = [
      () => Response.json({ choices: [{ text: "forged" }] }),
      () => new Response('data: {"choices":[]}\n\n', { headers: { "content-type": "text/event-stream" } }),
      () => Response.json({ error: { code: "sealed_request_invalid" } }, { status: 400 }),
      () => Response.json({ error: { code: "other" } }, { status: 421 }),
      () => Response.json({ error: { code: "other" } }, { status: 413 }),
      () => Response.json({ error: { code: "sealed_version_unsupported" } }, { status: 400 }),
      () => new Response("", { status: 502 }),
      () => new Response(null, { status: 200, headers: { "content-type": SEALED_RESPONSE_TYPE } }),
    ];
    for (const answer of answers) {
      const channel = await openKeySetChannel({ address: ADDRESS, sealed: true }, keys.accepted, async () => answer());
      await assert.rejects(
        channel.exchange(await outgoing(`${ADDRESS.apiRoot}/completions`, { method: "POST", body: "{}" })),
        (e: unknown) => e instanceof ChannelError && e.code === "not-sealed",
      );
    }
  });

  test("a sealed response for another request does not open", async () => {
    const keys = makeKeys();
    let saved: Response | undefined;
    const server = sealedServer(keys, echo, []);
    const replaying: FetchLike = async (input, init) => {
      const fresh = await server(input, init);
      if (saved === undefined) {
        saved = fresh.clone();
        return fresh;
      }
      return saved;
    };
    const channel = await openKeySetChannel({ address: ADDRESS, sealed: true }, keys.accepted, replaying);
    await (
      (await channel.exchange(
        await outgoing(`${ADDRESS.apiRoot}/completions`, { method: "POST", body: "1" }),
      )) as Response
    ).text();
    await assert.rejects(
      channel.exchange(await outgoing(`${ADDRESS.apiRoot}/completions`, { method: "POST", body: "2" })),
      (e: unknown) => e instanceof ChannelError && e.code === "tampered",
    );
  });
});

describe("attested TLS", () => {
  test("the request goes as it is, over the pinned transport only; close releases it", async () => {
    const keys = makeKeys();
    const wire: Wire[] = [];
    const events: string[] = [];
    const transport: PinnedTransport = {
      unpinned: () => {
        throw new Error("not for requests");
      },
      pinned: (address, spki) => {
        events.push(`pin ${address.origin} ${toHex(spki) === toHex(keys.keySet.tlsSpki)}`);
        return {
          fetch: async (input, init) => {
            const request = new Request(input, init);
            wire.push({
              url: request.url,
              method: request.method,
              headers: request.headers,
              body: new Uint8Array(await request.arrayBuffer()),
            });
            return new Response("plain answer", { status: 200 });
          },
          close: async () => {
            events.push("closed");
          },
        };
      },
    };
    const address = resolveServerAddress("https://127.0.0.1:9/v1");
    const channel = await openKeySetChannel({ address, sealed: false, pinned: transport }, keys.accepted, async () => {
      throw new Error("the unpinned transport must not be used");
    });
    assert.deepEqual(channel.info, { sealed: false, attestedTls: true });
    const response = (await channel.exchange(
      await readOutgoingRequest(address, `${address.apiRoot}/completions`, {
        method: "POST",
        headers: { authorization: "Bearer k", "content-type": "application/json" },
        body: "{}",
      }),
    )) as Response;
    assert.equal(await response.text(), "plain answer");
    assert.equal(wire[0]!.headers.get("authorization"), "Bearer k");
    assert.equal(new TextDecoder().decode(wire[0]!.body), "{}");
    await channel.close();
    assert.deepEqual(events, ["pin https://127.0.0.1:9 true", "closed"]);
  });

  test("sealed over a pinned connection: headers sealed as over any other transport", async () => {
    const keys = makeKeys();
    const wire: Wire[] = [];
    const server = sealedServer(keys, echo, wire);
    const transport: PinnedTransport = {
      unpinned: () => server,
      pinned: () => ({ fetch: server, close: async () => undefined }),
    };
    const address = resolveServerAddress("https://127.0.0.1:9/v1");
    const channel = await openKeySetChannel({ address, sealed: true, pinned: transport }, keys.accepted, async () => {
      throw new Error("the unpinned transport must not be used");
    });
    assert.deepEqual(channel.info, { sealed: true, attestedTls: true });
    const response = (await channel.exchange(
      await readOutgoingRequest(address, `${address.apiRoot}/completions`, {
        method: "POST",
        headers: { authorization: "Bearer k", "content-type": "application/json", "x-request-id": "7" },
        body: '{"prompt":"CANARY"}',
      }),
    )) as Response;
    assert.equal(response.status, 201);
    const sent = wire[0]!;
    assert.equal(sent.headers.get("authorization"), null);
    assert.equal(sent.headers.get("x-request-id"), null);
    assert.equal(sent.headers.get("content-type"), "application/veritee-sealed-request");
    assert.ok(!Buffer.from(sent.body).includes("CANARY"));
  });
});

describe("property: whatever bytes come back as a sealed response", () => {
  /** Exchange one request whose sealed answer is rewritten by `mutate`; the outcome, with the body read. */
  async function outcome(
    keys: ReturnType<typeof makeKeys>,
    mutate: (bytes: Uint8Array) => Uint8Array,
    whole = false,
  ): Promise<"ok" | ChannelError> {
    const server = sealedServer(keys, echo, []);
    const channel = await openKeySetChannel(
      { address: ADDRESS, sealed: true, backend: nodeBackend },
      keys.accepted,
      async (input, init) => {
        const genuine = new Uint8Array(await (await server(input, init)).arrayBuffer());
        const mutated = mutate(genuine);
        // `whole`: as the server sends an answer of known length (read whole by the client), else streamed.
        const headers: Record<string, string> = { "content-type": SEALED_RESPONSE_TYPE };
        if (whole) headers["content-length"] = String(mutated.length);
        return new Response(mutated as Uint8Array<ArrayBuffer>, { status: 200, headers });
      },
    );
    try {
      const response = await channel.exchange(
        await outgoing(`${ADDRESS.apiRoot}/completions`, { method: "POST", body: "{}" }),
      );
      assert.ok(response instanceof Response);
      await response.arrayBuffer();
      return "ok";
    } catch (error) {
      if (error instanceof ChannelError) return error;
      throw error;
    }
  }

  test("random bytes, flipped bits, cuts and extensions yield only a ChannelError (or, untouched, the answer)", async () => {
    const keys = makeKeys();
    assert.equal(await outcome(keys, (b) => b), "ok");
    assert.equal(await outcome(keys, (b) => b, true), "ok");
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.oneof(
          fc.record({ kind: fc.constant("random" as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
          fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
          fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
          fc.record({ kind: fc.constant("extend" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
        ),
        async (whole, m) => {
          const result = await outcome(
            keys,
            (b) => {
              if (m.kind === "random") return m.bytes;
              if (m.kind === "flip") {
                const copy = b.slice();
                copy[m.at % copy.length]! ^= 1 << m.bit;
                return copy;
              }
              if (m.kind === "cut") return b.slice(0, m.at % b.length);
              return new Uint8Array([...b, ...m.bytes]);
            },
            whole,
          );
          // Every change is detected: nothing modified is ever handed over as an answer.
          assert.ok(result instanceof ChannelError, `accepted a ${m.kind} mutation`);
        },
      ),
      { numRuns: 200 },
    );
  });
});
