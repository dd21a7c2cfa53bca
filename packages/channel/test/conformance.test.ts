/**
 * An independent implementation of docs/CHANNEL.md's wire format — plain
 * `@hpke/core` for the request, `node:crypto` HKDF and AES-GCM for the
 * response — talks to the channel's own code, both ways. It also forges
 * responses the real sealer never produces (a final head, a malformed head),
 * which the opener must refuse.
 */
import assert from "node:assert/strict";
import { createCipheriv, hkdfSync } from "node:crypto";
import { test } from "node:test";
import { concatBytes } from "@veritee/core";
import { channelSuite } from "../src/backend.js";
import { nodeBackend } from "../src/node/backend.js";
import { openRequest, type RequestContext, sealRequest } from "../src/request.js";
import { openResponse } from "../src/response.js";
import { channelCode, serverKey, str, text } from "./support.js";

const META = { method: "POST", path: "/v1/embeddings?x=1", contentType: "application/json" } as const;
const BODY = text('{"input":"hello"}');

/** A QUIC varint (RFC 9000 §16) of a small value: one byte below 64, two below 16384. */
function varint(n: number): Uint8Array {
  return n < 64 ? Uint8Array.of(n) : Uint8Array.of(0x40 | (n >> 8), n & 0xff);
}

function field(s: string | Uint8Array): Uint8Array {
  const bytes = typeof s === "string" ? text(s) : s;
  return concatBytes(varint(bytes.length), bytes);
}

/** The documented plaintext: a known-length Binary HTTP request (RFC 9292 §3.1), built by hand. */
function documentedMessage(): Uint8Array {
  const headerLine = concatBytes(field("content-type"), field(META.contentType));
  return concatBytes(
    Uint8Array.of(0), // framing indicator: known-length request
    field(META.method),
    field("https"),
    field(""), // no authority
    field(META.path),
    field(headerLine), // the header section: its length, then its one field line
    field(BODY), // the content
    Uint8Array.of(0), // an empty trailer section
  );
}

/** The documented request `info` and `aad` (none in version 2). */
function infoAndAad(hdr: Uint8Array, digest: Uint8Array) {
  return {
    info: concatBytes(text("veritee sealed request v2"), Uint8Array.of(0), hdr, digest),
    aad: new Uint8Array(0),
  };
}

/** The server side, from the document: open the request, then build response frames by hand (AES-128-GCM). */
async function documentedServer(sealed: Uint8Array, recipient: ReturnType<typeof serverKey>["recipient"]) {
  const suite = channelSuite(nodeBackend, 1, 1)!;
  const hdr = sealed.subarray(0, 7);
  const enc = sealed.subarray(7, 39);
  const { info, aad } = infoAndAad(hdr, recipient.keySetDigest);
  const ctx = await suite.hpke.createRecipientContext({ recipientKey: recipient.privateKey, enc, info });
  const body = new Uint8Array(await ctx.open(sealed.subarray(39), aad));
  const secret = new Uint8Array(await ctx.export(text("veritee sealed response v2"), 16));
  const nonceR = new Uint8Array(16).fill(0x5a);
  const salt = concatBytes(enc, nonceR);
  const key = new Uint8Array(hkdfSync("sha256", secret, salt, text("key"), 16));
  const base = new Uint8Array(hkdfSync("sha256", secret, salt, text("nonce"), 12));
  const frame = (flags: number, seq: number, plaintext: Uint8Array) => {
    const header = new Uint8Array(9);
    const v = new DataView(header.buffer);
    v.setUint8(0, flags);
    v.setUint32(1, seq);
    v.setUint32(5, plaintext.length + 16);
    const nonce = base.slice();
    new DataView(nonce.buffer).setUint32(8, new DataView(nonce.buffer).getUint32(8) ^ seq);
    const c = createCipheriv("aes-128-gcm", key, nonce);
    c.setAAD(header);
    return concatBytes(header, c.update(plaintext), c.final(), c.getAuthTag());
  };
  return { body, nonceR, frame };
}

async function exchange(): Promise<{ context: RequestContext; server: Awaited<ReturnType<typeof documentedServer>> }> {
  const { target, recipient } = serverKey({ suites: [1] });
  const sealed = await sealRequest(target, { ...META, body: BODY }, { backend: nodeBackend });
  return { context: sealed.context, server: await documentedServer(sealed.sealed, recipient) };
}

test("the documented request format opens what sealRequest seals: the request as Binary HTTP", async () => {
  const { server } = await exchange();
  assert.deepEqual(server.body, documentedMessage());
});

test("a request sealed by hand from the document opens with the channel's code", async () => {
  const { target, recipient } = serverKey({ suites: [1] });
  const suite = channelSuite(nodeBackend, 1, 1)!;
  const hdr = Uint8Array.of(target.keySet.hpke.keyId, 0, 0x20, 0, 1, 0, 1);
  const { info } = infoAndAad(hdr, target.keySetDigest);
  const recipientPublicKey = await suite.hpke.kem.deserializePublicKey(target.keySet.hpke.publicKey.slice());
  const sender = await suite.hpke.createSenderContext({ recipientPublicKey, info });
  const ct = new Uint8Array(await sender.seal(documentedMessage(), new Uint8Array(0)));
  const opened = await openRequest(recipient, concatBytes(hdr, new Uint8Array(sender.enc), ct));
  assert.equal(opened.request.method, META.method);
  assert.equal(opened.request.path, META.path);
  assert.deepEqual(opened.request.headers, [["content-type", META.contentType]]);
  assert.equal(str(opened.body), str(BODY));
});

test("a response built from the document opens with the channel's code", async () => {
  const { context, server } = await exchange();
  // head: status 200, one field (content-type: a/b)
  const head = Uint8Array.from([0, 200, 1, 12, ...text("content-type"), 0, 3, ...text("a/b")]);
  const bytes = concatBytes(
    server.nonceR,
    server.frame(0, 0, head),
    server.frame(0, 1, text("he")),
    server.frame(1, 2, text("llo")),
  );
  const opened = await openResponse(context, bytes);
  assert.equal(opened.status, 200);
  assert.deepEqual({ ...opened.headers }, { "content-type": "a/b" });
  assert.equal(str(opened.body), "hello");
});

test("what the sealer never makes is refused: a final head, a malformed head, no head", async () => {
  let x = await exchange();
  const head = Uint8Array.of(0, 200, 0);
  assert.equal(
    await channelCode(openResponse(x.context, concatBytes(x.server.nonceR, x.server.frame(1, 0, head)))),
    "bad-framing",
  );
  x = await exchange();
  const badHead = Uint8Array.of(0x02, 0xbc, 0); // status 700
  const bytes = concatBytes(x.server.nonceR, x.server.frame(0, 0, badHead), x.server.frame(1, 1, text("x")));
  assert.equal(await channelCode(openResponse(x.context, bytes)), "bad-framing");
  x = await exchange();
  assert.equal(await channelCode(openResponse(x.context, x.server.nonceR)), "truncated");
});
