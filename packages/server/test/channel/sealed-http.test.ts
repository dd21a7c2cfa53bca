/**
 * The server's sealed layer around `node:http`, with hand-written routes (no
 * model, no TPM): how a route's answer goes out. An answer of declared length
 * (every JSON answer) is sealed whole and sent with the sealed length as its
 * `content-length`, in one piece; an answer without one (server-sent events)
 * streams frame by frame, chunked. A route whose body does not match the
 * length it declared gets its connection cut — the client sees a truncated
 * answer, never an unsealed byte.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import {
  openResponse,
  type RequestContext,
  SEALED_RESPONSE_TYPE,
  type SealTarget,
  sealRequest,
} from "@veritee/channel";
import { nodeBackend, nodeRecipientKey } from "@veritee/channel/node";
import { generateX25519 } from "@veritee/core";
import { withSealedChannel } from "../../src/channel/sealed-http.js";
import { exchangeListener, type ResponseSink } from "../../src/http/exchange.js";
import { MemoryLogger } from "../http/support/server.js";

const CANARY = "canary-5d1e-route-answer";
const TEXT = new TextEncoder();

/** Write callbacks that ran: a whole answer calls them once it is sent. */
let writeCallbacks = 0;

/** The routes: each answers in one of the ways a route may write a response (through its sink, http/exchange.ts). */
function route(path: string, res: ResponseSink): void {
  const json = JSON.stringify({ answer: CANARY });
  switch (path) {
    case "/json":
      res.head(200, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
      res.end(json);
      return;
    case "/implicit": {
      const text = `created ${CANARY}`;
      res.head(201, { "content-type": "text/plain", "content-length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    case "/parts": {
      res.head(202, { "content-length": "10", "retry-after": "3" });
      res.write("hello");
      res.write(TEXT.encode("world"), () => {
        writeCallbacks++;
      });
      res.end();
      return;
    }
    case "/big": {
      const big = Buffer.alloc(200_000, 0x61);
      res.head(200, { "content-type": "application/octet-stream", "content-length": big.length });
      res.end(big);
      return;
    }
    case "/events": {
      res.head(200, { "content-type": "text/event-stream" });
      let n = 0;
      const timer = setInterval(() => {
        if (n < 3) res.write(`data: ${CANARY} ${n++}\n\n`);
        else {
          clearInterval(timer);
          res.end("data: [DONE]\n\n");
        }
      }, 5);
      return;
    }
    case "/longer":
      res.head(200, { "content-type": "text/plain", "content-length": "3" });
      res.end(`too long ${CANARY}`);
      return;
    case "/shorter":
      res.head(200, { "content-type": "text/plain", "content-length": "100" });
      res.write(`short ${CANARY}`);
      res.end();
      return;
    default:
      res.head(404, { "content-length": "0" });
      res.end();
  }
}

interface Exchange {
  readonly status?: number;
  readonly headers?: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly error?: Error;
  readonly context: RequestContext;
}

describe("the sealed layer's response shapes", () => {
  let server: Server;
  let port: number;
  let target: SealTarget;
  const logger = new MemoryLogger();

  before(async () => {
    const { privateKey, publicKey } = generateX25519();
    const keyConfig = { keyId: 1, kemId: 0x0020, publicKey, cipherSuites: [{ kdfId: 1, aeadId: 1 }] };
    const keySetDigest = new Uint8Array(32).fill(9);
    target = { keySet: { hpke: keyConfig }, keySetDigest };
    const recipient = nodeRecipientKey({ keyConfig, keySetDigest, privateKey });
    server = createServer(
      { noDelay: true },
      withSealedChannel(
        exchangeListener((req, sink) => route(req.target, sink)),
        { recipient, logger },
      ),
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  async function exchange(path: string): Promise<Exchange> {
    const sealed = await sealRequest(
      target,
      { method: "POST", path, contentType: "application/json", body: TEXT.encode("{}") },
      { backend: nodeBackend },
    );
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const req = request({
        host: "127.0.0.1",
        port,
        path: sealed.path,
        method: "POST",
        headers: { ...sealed.headers, "content-length": sealed.sealed.length },
        agent: false,
      });
      req.once("error", (error) => resolve({ error, body: Buffer.concat(chunks), context: sealed.context }));
      req.once("response", (res) => {
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.once("end", () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks),
            context: sealed.context,
          }),
        );
        res.once("aborted", () =>
          resolve({ error: new Error("aborted"), body: Buffer.concat(chunks), context: sealed.context }),
        );
      });
      req.end(sealed.sealed);
    });
  }

  test("an answer of declared length goes out whole: the sealed length as content-length, not chunked", async () => {
    const r = await exchange("/json");
    assert.equal(r.error, undefined);
    assert.equal(r.status, 200);
    assert.equal(r.headers!["content-type"], SEALED_RESPONSE_TYPE);
    assert.equal(r.headers!["content-length"], String(r.body.length));
    assert.equal(r.headers!["transfer-encoding"], undefined);
    assert.ok(!r.body.includes(CANARY));
    const opened = await openResponse(r.context, r.body);
    assert.equal(opened.status, 200);
    assert.deepEqual({ ...opened.headers }, { "content-type": "application/json" });
    assert.deepEqual(JSON.parse(Buffer.from(opened.body).toString()), { answer: CANARY });
  });

  test("another status, writes in parts, and bodies of several frames are sealed whole too", async () => {
    const implicit = await exchange("/implicit");
    assert.equal(implicit.headers!["content-length"], String(implicit.body.length));
    let opened = await openResponse(implicit.context, implicit.body);
    assert.equal(opened.status, 201);
    assert.equal(opened.headers["content-type"], "text/plain");
    assert.equal(Buffer.from(opened.body).toString(), `created ${CANARY}`);

    const parts = await exchange("/parts");
    assert.equal(parts.headers!["content-length"], String(parts.body.length));
    opened = await openResponse(parts.context, parts.body);
    assert.equal(opened.status, 202);
    assert.equal(opened.headers["retry-after"], "3");
    assert.equal(Buffer.from(opened.body).toString(), "helloworld");
    assert.equal(writeCallbacks, 1);

    const big = await exchange("/big");
    assert.equal(big.headers!["content-length"], String(big.body.length));
    opened = await openResponse(big.context, big.body);
    assert.equal(opened.body.length, 200_000);
  });

  test("an answer without a length streams: chunked, one frame per write", async () => {
    const r = await exchange("/events");
    assert.equal(r.status, 200);
    assert.equal(r.headers!["content-length"], undefined);
    assert.equal(r.headers!["transfer-encoding"], "chunked");
    assert.ok(!r.body.includes(CANARY));
    const opened = await openResponse(r.context, r.body);
    assert.equal(opened.headers["content-type"], "text/event-stream");
    assert.equal(
      Buffer.from(opened.body).toString(),
      `data: ${CANARY} 0\n\ndata: ${CANARY} 1\n\ndata: ${CANARY} 2\n\ndata: [DONE]\n\n`,
    );
  });

  test("a body longer or shorter than its declared length: the connection is cut, nothing unsealed is sent", async () => {
    const before = logger.events.filter((e) => e.event === "sealed-response-failed").length;
    for (const path of ["/longer", "/shorter"]) {
      const r = await exchange(path);
      assert.ok(r.error !== undefined, `${path} was answered`);
      assert.ok(!r.body.includes(CANARY));
    }
    const failed = logger.events.filter((e) => e.event === "sealed-response-failed");
    assert.equal(failed.length - before, 2);
    assert.ok(!logger.text().includes(CANARY));
  });
});
