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
import { type RequestContext, sealRequest } from "../src/request.js";
import { openResponse } from "../src/response.js";
import { channelCode, serverKey, str, text } from "./support.js";

const META = { method: "POST", path: "/v1/embeddings?x=1", contentType: "application/json" } as const;
const BODY = text('{"input":"hello"}');

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff);
}

function field(s: string): Uint8Array {
  return concatBytes(u16(s.length), text(s));
}

/** The documented request `info` and `aad`. */
function infoAndAad(hdr: Uint8Array, digest: Uint8Array) {
  return {
    info: concatBytes(text("veritee sealed request v1"), Uint8Array.of(0), hdr, digest),
    aad: concatBytes(field(META.method), field(META.path), field(META.contentType)),
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
  const secret = new Uint8Array(await ctx.export(text("veritee sealed response v1"), 16));
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

test("the documented request format opens what sealRequest seals", async () => {
  const { server } = await exchange();
  assert.equal(str(server.body), str(BODY));
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
