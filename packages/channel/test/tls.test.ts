/**
 * Attested TLS: the DER encoder, the self-signed certificate (checked with
 * `@veritee/evidence`'s strict X.509 decoder and Node's own), and pinned
 * HTTPS — a client pinned to the attested key connects; a man in the middle
 * presenting its own certificate is refused before one request byte reaches
 * it; a TCP relay in between sees only ciphertext.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { createServer as createHttpsServer, type Server as HttpsServer, request as httpsRequest } from "node:https";
import { type AddressInfo, createServer as createNetServer, connect as netConnect, type Server } from "node:net";
import { after, before, describe, test } from "node:test";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import {
  derBitString,
  derNamedBits,
  derOid,
  derSet,
  derSmallInteger,
  derTime,
  derTlv,
  derUnsigned,
  importPublicSpki,
  toHex,
  verifySignature,
} from "@veritee/core";
import { decodeCertificate, KEY_USAGE } from "@veritee/evidence";
import { createAttestedCertificate } from "../src/node/certificate.js";
import { connectPinned, createPinnedAgent, createPinnedFetch } from "../src/node/pinned.js";
import { channelCode } from "./support.js";

const CANARY = "canary-5b1d-tls-do-not-leak";

function tlsKey(): { privateKey: KeyObject; spki: Uint8Array; pem: string } {
  const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = new Uint8Array(pair.publicKey.export({ format: "der", type: "spki" }));
  return {
    privateKey: pair.privateKey,
    spki,
    pem: createAttestedCertificate({ privateKey: pair.privateKey, spki }).pem,
  };
}

function keyPem(key: KeyObject): string {
  return key.export({ format: "pem", type: "pkcs8" }).toString();
}

async function listen(server: Server | HttpsServer): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

describe("DER encoder", () => {
  test("known encodings (X.690 §8.3, §8.6, §8.19, §10.1)", () => {
    assert.equal(toHex(derOid("1.2.840.10045.4.3.2")), "06082a8648ce3d040302");
    assert.equal(toHex(derOid("2.5.29.19")), "0603551d13");
    assert.equal(toHex(derUnsigned(Uint8Array.of(0x80))), "02020080");
    assert.equal(toHex(derUnsigned(Uint8Array.of(0, 0, 1))), "020101");
    assert.equal(toHex(derUnsigned(new Uint8Array(0))), "020100");
    assert.equal(toHex(derSmallInteger(2)), "020102");
    assert.equal(toHex(derSmallInteger(256)), "02020100");
    assert.equal(toHex(derNamedBits([0])), "03020780");
    assert.equal(toHex(derNamedBits([0, 5, 6])), "03020186");
    assert.equal(toHex(derBitString(Uint8Array.of(0xab))), "030200ab");
    assert.equal(toHex(derTlv(0x04, new Uint8Array(127))).slice(0, 4), "047f");
    assert.equal(toHex(derTlv(0x04, new Uint8Array(128))).slice(0, 6), "048180");
    assert.equal(toHex(derTlv(0x04, new Uint8Array(256))).slice(0, 8), "04820100");
    assert.equal(toHex(derSet(Uint8Array.of(2, 1, 5), Uint8Array.of(2, 1, 3))), "3106020103020105");
    assert.equal(
      toHex(derTime(new Date("2049-12-31T23:59:59Z"))),
      `170d${Buffer.from("491231235959Z").toString("hex")}`,
    );
    assert.equal(
      toHex(derTime(new Date("2050-01-01T00:00:00Z"))),
      `180f${Buffer.from("20500101000000Z").toString("hex")}`,
    );
    assert.throws(() => derOid("3.1"), RangeError);
    assert.throws(() => derOid("1.40"), RangeError);
  });
});

describe("the attested certificate", () => {
  test("decodes strictly, carries the attested SPKI verbatim, and is signed by that key", async () => {
    const { privateKey, spki } = tlsKey();
    const notBefore = new Date("2026-01-01T00:00:00Z");
    const cert = createAttestedCertificate({ privateKey, spki, notBefore, commonName: "test" });
    const decoded = decodeCertificate(cert.der);
    assert.equal(decoded.version, 3);
    assert.deepEqual(decoded.spki, spki);
    assert.deepEqual(decoded.subject, decoded.issuer);
    assert.equal(decoded.notBefore.toISOString(), notBefore.toISOString());
    assert.equal(decoded.notAfter.getTime() - notBefore.getTime(), 365 * 86_400_000);
    assert.deepEqual(decoded.basicConstraints, { ca: false });
    assert.equal(decoded.keyUsage, KEY_USAGE.digitalSignature);
    assert.deepEqual(decoded.extendedKeyUsage, ["1.3.6.1.5.5.7.3.1"]);
    assert.equal(decoded.signatureAlgorithm.oid, "1.2.840.10045.4.3.2");
    assert.ok(decoded.serialHex.length === 32 && Number.parseInt(decoded.serialHex.slice(0, 1), 16) >= 4);
    const x509 = new X509Certificate(cert.der);
    assert.ok(x509.verify(x509.publicKey));
    assert.ok(x509.subject.includes("CN=test"));
    assert.ok(
      await verifySignature(
        decoded.signatureAlgorithm.scheme!,
        importPublicSpki(new Uint8Array(x509.publicKey.export({ format: "der", type: "spki" }))),
        decoded.tbs,
        decoded.signature,
      ),
    );
    assert.ok(cert.pem.startsWith("-----BEGIN CERTIFICATE-----\n"));
  });

  test("refuses an SPKI that is not the private key's", () => {
    const a = tlsKey();
    const b = tlsKey();
    assert.throws(() => createAttestedCertificate({ privateKey: a.privateKey, spki: b.spki }), RangeError);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const rsaSpki = new Uint8Array(rsa.publicKey.export({ format: "der", type: "spki" }));
    assert.throws(() => createAttestedCertificate({ privateKey: rsa.privateKey, spki: rsaSpki }), RangeError);
  });
});

describe("pinned TLS", () => {
  const genuine = tlsKey();
  let server: HttpsServer;
  let origin: string;
  let port: number;
  let connections = 0;

  before(async () => {
    server = createHttpsServer(
      { key: keyPem(genuine.privateKey), cert: genuine.pem, minVersion: "TLSv1.3" },
      (req, res) => {
        if (req.url === "/stream") {
          res.writeHead(200, { "content-type": "text/plain" });
          let n = 0;
          const timer = setInterval(() => {
            res.write(`chunk ${n}\n`);
            if (++n === 3) {
              clearInterval(timer);
              res.end();
            }
          }, 5);
          return;
        }
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          res.writeHead(200, { "content-type": "text/plain", "x-echo-method": req.method ?? "" });
          res.end(`echo:${Buffer.concat(chunks).toString()}`);
        });
      },
    );
    server.on("secureConnection", () => connections++);
    port = await listen(server);
    origin = `https://127.0.0.1:${port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test("a client pinned to the attested key connects, and reuses its checked connection", async () => {
    const pinned = createPinnedFetch({ origin, spki: genuine.spki });
    const before = connections;
    const r1 = await pinned(`${origin}/x`, {
      method: "POST",
      body: "hello",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(r1.status, 200);
    assert.equal(r1.headers.get("x-echo-method"), "POST");
    assert.equal(await r1.text(), "echo:hello");
    const r2 = await pinned(`${origin}/y`);
    assert.equal(await r2.text(), "echo:");
    assert.equal(connections - before, 1);
  });

  test("streamed bodies arrive chunk by chunk", async () => {
    const pinned = createPinnedFetch({ origin, spki: genuine.spki });
    const r = await pinned(`${origin}/stream`);
    const chunks: string[] = [];
    for await (const c of r.body!) chunks.push(Buffer.from(c).toString());
    assert.equal(chunks.join(""), "chunk 0\nchunk 1\nchunk 2\n");
  });

  test("another origin and aborted requests are refused", async () => {
    const pinned = createPinnedFetch({ origin, spki: genuine.spki });
    await assert.rejects(pinned("https://127.0.0.1:1/x"), TypeError);
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await assert.rejects(pinned(`${origin}/x`, { signal: controller.signal }), /stop/);
    assert.throws(() => createPinnedFetch({ origin: "http://127.0.0.1:1", spki: genuine.spki }), TypeError);
  });

  test("a man in the middle with its own certificate is refused before any request byte", async () => {
    const mitm = tlsKey();
    let applicationBytes = 0;
    let handshakes = 0;
    const proxy = createTlsServer(
      { key: keyPem(mitm.privateKey), cert: mitm.pem, minVersion: "TLSv1.3" },
      (socket: TLSSocket) => {
        socket.on("data", (d: Buffer) => {
          applicationBytes += d.length;
        });
        socket.on("error", () => undefined);
      },
    );
    // The client reaches the proxy (TCP and the TLS handshake); the pin check then stops it.
    proxy.on("connection", () => handshakes++);
    const proxyPort = await listen(proxy);
    const proxyOrigin = `https://127.0.0.1:${proxyPort}`;
    try {
      const pinned = createPinnedFetch({ origin: proxyOrigin, spki: genuine.spki });
      const code = await channelCode(
        pinned(`${proxyOrigin}/v1/chat/completions`, {
          method: "POST",
          body: CANARY,
          headers: { authorization: "Bearer k" },
        }),
      );
      assert.equal(code, "pin-mismatch");
      assert.equal(
        await channelCode(connectPinned({ host: "127.0.0.1", port: proxyPort, spki: genuine.spki })),
        "pin-mismatch",
      );
      const agent = createPinnedAgent({ spki: genuine.spki });
      assert.equal(
        await channelCode(createPinnedFetch({ origin: proxyOrigin, spki: genuine.spki, agent })(proxyOrigin)),
        "pin-mismatch",
      );
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(handshakes, 3, "each attempt reached the proxy");
      assert.equal(applicationBytes, 0, "the proxy received no application data");
      // Control: a client that does not pin does hand its request to the same proxy, so the counter works.
      const unpinned = httpsRequest(`${proxyOrigin}/`, { method: "POST", rejectUnauthorized: false });
      unpinned.on("error", () => undefined);
      unpinned.end(CANARY);
      for (let i = 0; i < 100 && applicationBytes === 0; i++) await new Promise((r) => setTimeout(r, 10));
      unpinned.destroy();
      assert.ok(applicationBytes > 0, "an unpinned client's request reaches the proxy");
    } finally {
      proxy.close();
    }
  });

  test("a TCP relay in between passes the pinned connection and sees only ciphertext", async () => {
    const seen: Buffer[] = [];
    const relay = createNetServer((client) => {
      const upstream = netConnect(port, "127.0.0.1");
      client.on("data", (d: Buffer) => seen.push(d));
      upstream.on("data", (d: Buffer) => seen.push(d));
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    const relayPort = await listen(relay);
    try {
      const relayOrigin = `https://127.0.0.1:${relayPort}`;
      const pinned = createPinnedFetch({ origin: relayOrigin, spki: genuine.spki });
      const r = await pinned(`${relayOrigin}/x`, { method: "POST", body: CANARY });
      assert.equal(await r.text(), `echo:${CANARY}`);
      const wire = Buffer.concat(seen);
      assert.ok(wire.length > 0);
      assert.ok(!wire.includes(CANARY));
      assert.ok(!wire.includes("echo:"));
    } finally {
      relay.close();
    }
  });
});
