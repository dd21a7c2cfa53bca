/**
 * The sealed channel against its floor:
 *  - a 1 MiB request body sealed (HPKE to the attested key) and opened vs raw
 *    AES-128-GCM encryption + decryption of the same bytes in node:crypto;
 *  - a 1 MiB response sealed and opened as frames vs the same raw AES-GCM;
 *  - per-frame sealing + opening of one SSE token event, as a fraction of the
 *    embedded model's time per generated token.
 */
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes } from "node:crypto";
import { createResponseDecoder, openRequest, sealRequest } from "@veritee/channel";
import { nodeBackend, nodeRecipientKey } from "@veritee/channel/node";
import { HPKE_AEAD_AES_128_GCM, type HpkeKeyConfig } from "@veritee/evidence";
import { compare, fmt } from "./harness.js";

const META = { method: "POST", path: "/v1/chat/completions", contentType: "application/json" } as const;

function rawAesGcm(data: Uint8Array): void {
  const key = randomBytes(16);
  const iv = randomBytes(12);
  const c = createCipheriv("aes-128-gcm", key, iv);
  const sealed = Buffer.concat([c.update(data), c.final()]);
  const tag = c.getAuthTag();
  const d = createDecipheriv("aes-128-gcm", key, iv);
  d.setAuthTag(tag);
  Buffer.concat([d.update(sealed), d.final()]);
}

/** Seconds per generated token of the embedded model (about 400 tok/s here, see `npm run bench -- server`). */
const TOKEN_SECONDS = 1 / 400;

export async function benchChannel(): Promise<void> {
  const pair = generateKeyPairSync("x25519");
  const keyConfig: HpkeKeyConfig = {
    keyId: 0,
    kemId: 0x0020,
    publicKey: new Uint8Array(Buffer.from(pair.publicKey.export({ format: "jwk" }).x!, "base64url")),
    cipherSuites: [{ kdfId: 1, aeadId: HPKE_AEAD_AES_128_GCM }],
  };
  const keySetDigest = new Uint8Array(32).fill(7);
  const target = { keySet: { hpke: keyConfig }, keySetDigest };
  const recipient = nodeRecipientKey({ keyConfig, keySetDigest, privateKey: pair.privateKey });
  const body = new Uint8Array(randomBytes(1 << 20));

  const request = await compare(
    async () => {
      const sealed = await sealRequest(target, { ...META, body }, { backend: nodeBackend });
      await openRequest(recipient, sealed.sealed);
    },
    () => rawAesGcm(body),
    { rounds: 5, roundMs: 300 },
  );

  const response = await compare(
    async () => {
      const sealed = await sealRequest(target, { ...META, body: new Uint8Array(8) }, { backend: nodeBackend });
      const opened = await openRequest(recipient, sealed.sealed);
      const sealer = await opened.responder.sealStream({
        status: 200,
        headers: { "content-type": "text/event-stream" },
      });
      const decoder = createResponseDecoder(sealed.context);
      await decoder.push(sealer.preamble);
      for (let off = 0; off < body.length; off += 64 << 10)
        await decoder.push(await sealer.seal(body.subarray(off, off + (64 << 10))));
      await decoder.push(await sealer.finish());
    },
    () => rawAesGcm(body),
    { rounds: 5, roundMs: 300 },
  );

  const event = new TextEncoder().encode(
    `data: ${JSON.stringify({ id: "chatcmpl-0123456789abcdef", object: "chat.completion.chunk", created: 1, model: "stories260K", choices: [{ index: 0, delta: { content: " ball" }, finish_reason: null }] })}\n\n`,
  );
  const sealed = await sealRequest(target, { ...META, body: new Uint8Array(8) }, { backend: nodeBackend });
  const opened = await openRequest(recipient, sealed.sealed);
  const sealer = await opened.responder.sealStream({ status: 200, headers: { "content-type": "text/event-stream" } });
  const decoder = createResponseDecoder(sealed.context);
  await decoder.push(sealer.preamble);
  const frame = await compare(
    async () => {
      await decoder.push(await sealer.seal(event));
    },
    () => undefined,
    { rounds: 3, roundMs: 200 },
  );

  console.log(
    "\n## Sealed channel (HPKE X25519/HKDF-SHA256/AES-128-GCM, node backend) vs raw AES-128-GCM in node:crypto",
  );
  console.log("| what | ours ms | raw AES-GCM ms | ratio |");
  console.log("| --- | ---: | ---: | ---: |");
  console.log(
    `| 1 MiB request: seal + open | ${fmt(request.subject.meanMicros / 1000)} | ${fmt(request.baseline.meanMicros / 1000)} | ${fmt(request.ratio)}× |`,
  );
  console.log(
    `| 1 MiB response in 16 frames: seal + open (incl. a small sealed request) | ${fmt(response.subject.meanMicros / 1000)} | ${fmt(response.baseline.meanMicros / 1000)} | ${fmt(response.ratio)}× |`,
  );
  console.log(
    `\nPer streamed token: sealing + opening one ${event.length}-byte SSE frame costs ${fmt(frame.subject.meanMicros)} µs, ${fmt((frame.subject.meanMicros / 1e6 / TOKEN_SECONDS) * 100)}% of the embedded model's ${fmt(TOKEN_SECONDS * 1000)} ms per token.`,
  );
}
