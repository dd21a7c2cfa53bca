// The two crypto backends (node:crypto and WebCrypto + @noble) must be
// interchangeable: the same export names, mutually assignable types, and the
// same answers on the same inputs. Node 20 has globalThis.crypto.subtle, so
// the web backend runs here against the node one.
import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import * as node from "../src/crypto-node.js";
import * as web from "../src/crypto-web.js";
import { MalformedError } from "../src/errors.js";
import * as nodeIndex from "../src/index.js";
import * as webIndex from "../src/index.web.js";
import { decodeSpki, encodeSpki, isOnCurve, publicKeyFromJwk, publicKeyJwkOf } from "../src/spki.js";

type Backend = typeof node;
// Compile-time proof that each backend can stand in for the other.
const webAsNode: Backend = web;
const nodeAsWeb: typeof web = node;
const BACKENDS = [
  ["node", nodeAsWeb],
  ["web", webAsNode],
] as const;

const HASHES = ["sha1", "sha256", "sha384", "sha512"] as const;
const CURVES = [
  { jwk: "P-256", ecdh: "prime256v1", size: 32, hash: "sha256" },
  { jwk: "P-384", ecdh: "secp384r1", size: 48, hash: "sha384" },
  { jwk: "P-521", ecdh: "secp521r1", size: 66, hash: "sha512" },
] as const;

// Keys are generated with their encodings made inside the generation job and
// re-imported (see keygen-node.ts: exporting from a job's KeyObject deadlocked Node 20).
function keyPair(
  type: "rsa" | "ec",
  options: { modulusLength?: number; namedCurve?: string },
): { privateKey: nodeCrypto.KeyObject; spki: Uint8Array; jwk: JsonWebKey } {
  const pair = nodeCrypto.generateKeyPairSync(type as "ec", {
    ...(options as { namedCurve: string }),
    publicKeyEncoding: { type: "spki", format: "der" },
    privateKeyEncoding: { type: "pkcs8", format: "der" },
  });
  const spki = new Uint8Array(pair.publicKey);
  const jwk = nodeCrypto
    .createPublicKey({ key: pair.publicKey, format: "der", type: "spki" })
    .export({ format: "jwk" });
  return {
    privateKey: nodeCrypto.createPrivateKey({ key: pair.privateKey, format: "der", type: "pkcs8" }),
    spki,
    jwk: jwk as JsonWebKey,
  };
}

const RSA = keyPair("rsa", { modulusLength: 2048 });
const EC = Object.fromEntries(CURVES.map((c) => [c.jwk, keyPair("ec", { namedCurve: c.jwk })]));

function names(m: object): string[] {
  return Object.keys(m).sort();
}

describe("backend API", () => {
  it("both crypto modules export the same names", () => {
    assert.deepEqual(names(node), names(web));
    assert.equal(node.CRYPTO_BACKEND, "node");
    assert.equal(web.CRYPTO_BACKEND, "web");
  });

  it("the browser entry exports what the Node entry does, less Node-only key generation", () => {
    const nodeOnly = new Set(["generateP256", "generateX25519", "importX25519Private"]);
    assert.deepEqual(
      names(nodeIndex).filter((n) => !nodeOnly.has(n)),
      names(webIndex),
    );
    assert.equal(webIndex.CRYPTO_BACKEND, "web");
  });

  it("a handle works only with the backend that made it", async () => {
    const key = web.importPublicSpki(RSA.spki);
    assert.ok(key instanceof node.PublicKeyHandle);
    assert.throws(() => node.exportSpki(key), TypeError);
    await assert.rejects(
      node.verifySignature({ kind: "rsassa-pkcs1", hash: "sha256" }, key, new Uint8Array(1), new Uint8Array(256)),
      TypeError,
    );
    assert.throws(() => web.exportSpki(node.importPublicSpki(RSA.spki)), TypeError);
  });
});

describe("hash, HMAC, random bytes", () => {
  it("hash and HMAC agree on random inputs split into random parts", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...HASHES),
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }),
        fc.uint8Array({ maxLength: 200 }),
        (alg, parts, key) => {
          assert.deepEqual(web.hash(alg, ...parts), node.hash(alg, ...parts));
          assert.deepEqual(web.hmac(alg, key, ...parts), node.hmac(alg, key, ...parts));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("digest sizes match the digests", () => {
    for (const alg of HASHES) assert.equal(web.hash(alg, new Uint8Array(3)).length, web.digestSize(alg));
  });

  it("random bytes have the asked length, beyond getRandomValues' 65536-byte limit too", () => {
    for (const n of [0, 1, 32, 65536, 65537, 200000]) {
      assert.equal(web.randomBytes(n).length, n);
      assert.equal(node.randomBytes(n).length, n);
    }
    assert.notDeepEqual(web.randomBytes(32), web.randomBytes(32));
  });
});

describe("AES-CFB", () => {
  it("both backends encrypt alike and decrypt each other, for any length", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(16, 24, 32),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (keyLength, iv, data, keyBytes) => {
          const key = keyBytes.slice(0, keyLength);
          const c = node.aesCfbEncrypt(key, iv, data);
          assert.deepEqual(web.aesCfbEncrypt(key, iv, data), c);
          assert.deepEqual(web.aesCfbDecrypt(key, iv, c), data);
          assert.deepEqual(node.aesCfbDecrypt(key, iv, c), data);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("both refuse a key or IV of the wrong size", () => {
    for (const [, b] of BACKENDS) {
      assert.throws(() => b.aesCfbEncrypt(new Uint8Array(15), new Uint8Array(16), new Uint8Array(4)));
      assert.throws(() => b.aesCfbEncrypt(new Uint8Array(16), new Uint8Array(8), new Uint8Array(4)));
    }
  });
});

describe("key import and export", () => {
  it("a point off its curve is a MalformedError in both backends, not an OpenSSL error", () => {
    const spki = EC["P-256"]!.spki.slice();
    spki[spki.length - 1]! ^= 1; // the y coordinate's last byte: the point leaves the curve
    const jwk = { ...EC["P-256"]!.jwk, y: Buffer.from(spki.slice(-32)).toString("base64url") };
    for (const [name, b] of BACKENDS) {
      assert.throws(() => b.importPublicSpki(spki), MalformedError, name);
      assert.throws(() => b.importPublicJwk(jwk), MalformedError, name);
    }
  });

  it("SPKI and JWK import give the same canonical SPKI in both backends", () => {
    for (const k of [RSA, ...Object.values(EC)]) {
      for (const [name, b] of BACKENDS) {
        assert.deepEqual(b.exportSpki(b.importPublicSpki(k.spki)), k.spki, name);
        assert.deepEqual(b.exportSpki(b.importPublicJwk(k.jwk)), k.spki, name);
      }
      assert.deepEqual(encodeSpki(decodeSpki(k.spki)), k.spki);
      assert.deepEqual(publicKeyJwkOf(publicKeyFromJwk(k.jwk)), k.jwk);
      const parts = decodeSpki(k.spki);
      if (parts.kty === "EC") assert.ok(isOnCurve(parts.crv, parts.x, parts.y));
    }
  });

  it("both refuse an EC point that is not on its curve", () => {
    for (const c of CURVES) {
      const parts = decodeSpki(EC[c.jwk]!.spki);
      assert.equal(parts.kty, "EC");
      if (parts.kty !== "EC") continue;
      const y = parts.y.slice();
      y[y.length - 1]! ^= 1;
      const offCurve = publicKeyJwkOf({ ...parts, y });
      assert.ok(!isOnCurve(c.jwk, parts.x, y));
      for (const [name, b] of BACKENDS) {
        assert.throws(() => b.importPublicJwk(offCurve), name);
        assert.throws(() => b.importPublicSpki(encodeSpki({ ...parts, y })), name);
      }
    }
  });
});

/** Sign with Node, then both backends must verify it, and neither a changed message nor signature. */
async function agree(
  scheme: node.SignatureScheme,
  spki: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  expected: boolean,
): Promise<void> {
  for (const [name, b] of BACKENDS) {
    const key = b.importPublicSpki(spki);
    assert.equal(await b.verifySignature(scheme, key, message, signature), expected, `${name} ${scheme.kind}`);
  }
}

describe("signature verification", () => {
  const message = new TextEncoder().encode("TPMS_ATTEST bytes");
  const other = new TextEncoder().encode("TPMS_ATTEST bytez");

  it("ECDSA in IEEE P1363 and DER form, on P-256, P-384 and P-521", async () => {
    for (const c of CURVES) {
      const k = EC[c.jwk]!;
      for (const hash of ["sha256", "sha384"] as const) {
        const der = new Uint8Array(nodeCrypto.sign(hash, message, { key: k.privateKey, dsaEncoding: "der" }));
        const raw = new Uint8Array(nodeCrypto.sign(hash, message, { key: k.privateKey, dsaEncoding: "ieee-p1363" }));
        assert.equal(raw.length, 2 * c.size);
        await agree({ kind: "ecdsa-der", hash }, k.spki, message, der, true);
        await agree({ kind: "ecdsa", hash }, k.spki, message, raw, true);
        await agree({ kind: "ecdsa-der", hash }, k.spki, other, der, false);
        await agree({ kind: "ecdsa", hash }, k.spki, other, raw, false);
        // Wrong shapes: a P1363 signature given as DER and the reverse, a short r||s.
        await agree({ kind: "ecdsa-der", hash }, k.spki, message, raw, false);
        await agree({ kind: "ecdsa", hash }, k.spki, message, der, false);
        await agree({ kind: "ecdsa", hash }, k.spki, message, raw.subarray(1), false);
        // The right algorithm family is required of the key.
        await agree({ kind: "rsassa-pkcs1", hash }, k.spki, message, raw, false);
      }
    }
  });

  it("mutated DER ECDSA signatures get the same answer from both backends", async () => {
    const k = EC["P-256"]!;
    const der = new Uint8Array(nodeCrypto.sign("sha256", message, { key: k.privateKey, dsaEncoding: "der" }));
    const keys = BACKENDS.map(([, b]) => [b, b.importPublicSpki(k.spki)] as const);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 3 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.uint8Array({ maxLength: 3 }),
        async (edits, cut, tail) => {
          let sig = der.slice();
          for (const { at, value } of edits) sig[at % sig.length] = value;
          if (cut !== undefined) sig = sig.slice(0, cut % (sig.length + 1));
          sig = new Uint8Array([...sig, ...tail]);
          const [n, w] = await Promise.all(
            keys.map(([b, key]) => b.verifySignature({ kind: "ecdsa-der", hash: "sha256" }, key, message, sig)),
          );
          assert.equal(w, n);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("DER ECDSA with a non-minimal INTEGER or a negative r is refused by both", async () => {
    const k = EC["P-256"]!;
    const der = new Uint8Array(nodeCrypto.sign("sha256", message, { key: k.privateKey, dsaEncoding: "der" }));
    // Re-encode r with one extra leading zero byte (non-minimal, X.690 §8.3.2).
    const rLength = der[3]!;
    const r = der.subarray(4, 4 + rLength);
    const rest = der.subarray(4 + rLength);
    const padded = Uint8Array.from([0x30, der[1]! + 1, 0x02, rLength + 1, 0, ...r, ...rest]);
    await agree({ kind: "ecdsa-der", hash: "sha256" }, k.spki, message, padded, false);
  });

  it("RSASSA-PKCS1-v1_5", async () => {
    for (const hash of HASHES) {
      const sig = new Uint8Array(nodeCrypto.sign(hash, message, RSA.privateKey));
      await agree({ kind: "rsassa-pkcs1", hash }, RSA.spki, message, sig, true);
      await agree({ kind: "rsassa-pkcs1", hash }, RSA.spki, other, sig, false);
      await agree({ kind: "rsassa-pkcs1", hash }, RSA.spki, message, sig.subarray(1), false);
      await agree({ kind: "rsa-pss", hash }, RSA.spki, message, sig, false);
      await agree({ kind: "ecdsa", hash }, RSA.spki, message, sig, false);
    }
  });

  it("RSA-PSS: unpinned salt accepts the digest length and the maximum only, a pinned one exactly", async () => {
    const pss = (hash: "sha256" | "sha384", saltLength: number) =>
      new Uint8Array(
        nodeCrypto.sign(hash, message, {
          key: RSA.privateKey,
          padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING,
          saltLength,
        }),
      );
    for (const hash of ["sha256", "sha384"] as const) {
      const hLen = node.digestSize(hash);
      const max = 256 - hLen - 2; // RFC 8017 §9.1.1 for a 2048-bit key
      assert.deepEqual(node.pssSaltCandidates(2048, hash), [hLen, max]);
      await agree({ kind: "rsa-pss", hash }, RSA.spki, message, pss(hash, hLen), true);
      await agree({ kind: "rsa-pss", hash }, RSA.spki, message, pss(hash, max), true);
      await agree({ kind: "rsa-pss", hash }, RSA.spki, other, pss(hash, max), false);
      // Any other salt length is not what a TPM or an RFC 4055 profile makes: refused unless pinned.
      const odd = pss(hash, 10);
      await agree({ kind: "rsa-pss", hash }, RSA.spki, message, odd, false);
      await agree({ kind: "rsa-pss", hash, saltLength: 10 }, RSA.spki, message, odd, true);
      await agree({ kind: "rsa-pss", hash, saltLength: hLen }, RSA.spki, message, pss(hash, max), false);
    }
  });

  it("pssSaltCandidates follows RFC 8017 §9.1.1 for odd modulus sizes", () => {
    assert.deepEqual(node.pssSaltCandidates(1025, "sha256"), [32, 128 - 32 - 2]); // emLen = 128
    assert.deepEqual(node.pssSaltCandidates(1024, "sha512"), [62]); // max 62 < hLen 64
    assert.deepEqual(node.pssSaltCandidates(512, "sha512"), []);
  });
});

describe("RSA-OAEP and ECDH", () => {
  it("RSA-OAEP with a label from either backend decrypts with the private key", async () => {
    const label = new TextEncoder().encode("IDENTITY\0");
    const seed = node.randomBytes(32);
    for (const hash of ["sha1", "sha256", "sha384"] as const) {
      for (const [name, b] of BACKENDS) {
        const c = await b.rsaOaepEncrypt(b.importPublicSpki(RSA.spki), hash, label, seed);
        const plain = nodeCrypto.privateDecrypt(
          {
            key: RSA.privateKey,
            padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: hash,
            oaepLabel: label,
          },
          c,
        );
        assert.deepEqual(new Uint8Array(plain), seed, `${name} ${hash}`);
        // The label is bound: another label does not decrypt.
        assert.throws(() =>
          nodeCrypto.privateDecrypt(
            { key: RSA.privateKey, padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
            c,
          ),
        );
      }
    }
  });

  it("ECDH gives the peer's view of the shared x-coordinate, on all three curves", async () => {
    for (const c of CURVES) {
      const peer = nodeCrypto.createECDH(c.ecdh);
      const peerPoint = new Uint8Array(peer.generateKeys());
      for (const [name, b] of BACKENDS) {
        const { publicPoint, sharedX } = await b.ecdhEphemeral(c.ecdh, peerPoint);
        assert.equal(publicPoint.length, 1 + 2 * c.size, name);
        assert.equal(publicPoint[0], 0x04);
        assert.equal(sharedX.length, c.size, name);
        assert.deepEqual(sharedX, new Uint8Array(peer.computeSecret(publicPoint)), `${name} ${c.ecdh}`);
      }
    }
  });

  it("ECDH refuses a point off the curve or of the wrong size in both backends", async () => {
    const peerPoint = new Uint8Array(nodeCrypto.createECDH("prime256v1").generateKeys());
    const off = peerPoint.slice();
    off[64]! ^= 1;
    for (const [name, b] of BACKENDS) {
      await assert.rejects(b.ecdhEphemeral("prime256v1", off), name);
      await assert.rejects(b.ecdhEphemeral("prime256v1", peerPoint.subarray(1)), name);
      await assert.rejects(b.ecdhEphemeral("secp384r1", peerPoint), name);
    }
  });
});
