import assert from "node:assert/strict";
import { createPublicKey, sign } from "node:crypto";
import { test } from "node:test";
import { concatBytes, fromHex, TPMA_OBJECT, verifySignature } from "@veritee/core";
import fc from "fast-check";
import {
  type DecodedTpmtPublic,
  decodeTpm2bPublic,
  decodeTpmtPublic,
  encodeTpm2bPublic,
  encodeTpmtPublic,
  type TpmtPublic,
} from "../../src/tpm/public.js";
import { publicKeyHandle, publicKeyJwk, publicKeySpki } from "../../src/tpm/public-key.js";
import { mutated, tpmtPublic } from "./arbitraries.js";
import { makeTestAk } from "./forge.js";
import { ecdsaP256, rsaPss, rsaSsa, SWTPM_VECTORS } from "./swtpm-vectors.js";
import { onlyMalformed, throwsMalformed } from "./typed.js";

function fieldsOf(d: DecodedTpmtPublic): TpmtPublic {
  const { raw: _raw, name: _name, ...fields } = d;
  return fields as TpmtPublic;
}

test("decodes swtpm AKs and computes the Name tpm2-tools computed", () => {
  for (const v of SWTPM_VECTORS) {
    const pub = decodeTpm2bPublic(v.akPublic);
    assert.deepEqual(pub.name, v.akName, v.description);
    assert.deepEqual(encodeTpm2bPublic(fieldsOf(pub)), v.akPublic, v.description);
    assert.deepEqual(pub.raw, v.akPublic.subarray(2));
    assert.equal(pub.objectAttributes, 0x00050072, "tpm2_createak's attributes");
  }
  const ecc = decodeTpm2bPublic(ecdsaP256.akPublic);
  assert.equal(ecc.type, "ecc");
  if (ecc.type === "ecc") {
    assert.equal(ecc.curve, "p256");
    assert.deepEqual(ecc.scheme, { scheme: "ecdsa", hash: "sha256" });
    assert.deepEqual(ecc.kdf, { scheme: "null" });
    assert.equal(ecc.x.length, 32);
  }
  const pss = decodeTpm2bPublic(rsaPss.akPublic);
  assert.equal(pss.type, "rsa");
  if (pss.type === "rsa") {
    assert.equal(pss.keyBits, 2048);
    assert.equal(pss.exponent, 0);
    assert.deepEqual(pss.scheme, { scheme: "rsapss", hash: "sha256" });
    assert.deepEqual(pss.symmetric, { algorithm: "null" });
  }
  const ssa = decodeTpm2bPublic(rsaSsa.akPublic);
  assert.deepEqual(ssa.scheme, { scheme: "rsassa", hash: "sha256" });
  // decodeTpmtPublic takes the inner structure and agrees.
  assert.deepEqual(decodeTpmtPublic(ssa.raw), ssa);
});

test("the imported key verifies what the matching private key signed (ECC P-256, P-384, RSA)", async () => {
  const message = new TextEncoder().encode("quote");
  for (const kind of ["ecc-p256", "ecc-p384", "rsa-2048"] as const) {
    const ak = makeTestAk(kind);
    const pub = decodeTpm2bPublic(ak.tpm2b);
    const key = publicKeyHandle(pub);
    const sig = sign("sha256", message, ak.privateKey);
    const scheme = kind === "rsa-2048" ? ("rsassa-pkcs1" as const) : ("ecdsa-der" as const);
    assert.ok(await verifySignature({ kind: scheme, hash: "sha256" }, key, message, sig), kind);
    const spki = createPublicKey(ak.privateKey).export({ format: "der", type: "spki" });
    assert.deepEqual(publicKeySpki(pub), new Uint8Array(spki), kind);
  }
});

test("JWK: exponent 0 is 65537, explicit exponents are minimal, EC coordinates are padded", () => {
  const ak = makeTestAk("rsa-2048");
  assert.equal(publicKeyJwk(ak.fields).e, "AQAB");
  assert.equal(publicKeyJwk({ ...ak.fields, exponent: 3 } as TpmtPublic).e, "Aw");
  const ecc = makeTestAk("ecc-p256").fields;
  if (ecc.type !== "ecc") throw new Error("unreachable");
  // A coordinate given without its leading zero byte is padded back to 32 bytes.
  const jwk = publicKeyJwk({ ...ecc, x: ecc.x.subarray(0, 31) });
  assert.equal(Buffer.from(jwk.x!, "base64url").length, 32);
});

test("invalid key material is a MalformedError, not a crypto exception", () => {
  const ecc = makeTestAk("ecc-p256").fields;
  if (ecc.type !== "ecc") throw new Error("unreachable");
  const offCurve = ecc.y.slice();
  offCurve[31]! ^= 1;
  throwsMalformed(() => publicKeyHandle({ ...ecc, y: offCurve }), "bad-value");
  throwsMalformed(() => publicKeyHandle({ ...ecc, x: new Uint8Array(0), y: new Uint8Array(0) }), "bad-value");
  const rsa = makeTestAk("rsa-2048").fields;
  if (rsa.type !== "rsa") throw new Error("unreachable");
  const short = rsa.modulus.slice();
  short[0] = 0x7f; // a 2047-bit modulus is no RSA-2048 key
  throwsMalformed(() => publicKeyHandle({ ...rsa, modulus: short }), "bad-value");
  const even = rsa.modulus.slice();
  even[255]! &= 0xfe;
  throwsMalformed(() => publicKeyHandle({ ...rsa, modulus: even }), "bad-value");
});

test("strict checks on the public area", () => {
  const rsa = makeTestAk("rsa-2048").fields as Extract<TpmtPublic, { type: "rsa" }>;
  const ecc = makeTestAk("ecc-p256").fields as Extract<TpmtPublic, { type: "ecc" }>;
  const enc = (p: TpmtPublic) => encodeTpmtPublic(p);
  // Reserved TPMA_OBJECT bits (Part 2 §8.3.2).
  for (const bit of [0, 3, 8, 9, 12, 15, 20, 31]) {
    throwsMalformed(
      () => decodeTpmtPublic(enc({ ...ecc, objectAttributes: ecc.objectAttributes | (1 << bit) })),
      "reserved-nonzero",
    );
  }
  // The modulus must be keyBits / 8 bytes.
  throwsMalformed(() => decodeTpmtPublic(enc({ ...rsa, modulus: rsa.modulus.subarray(1) })), "bad-length");
  throwsMalformed(() => decodeTpmtPublic(enc({ ...rsa, keyBits: 3072 })), "bad-length");
  throwsMalformed(() => decodeTpmtPublic(enc({ ...rsa, keyBits: 2047 })), "unsupported");
  // Exponents: even or below 3 are no RSA key.
  for (const exponent of [1, 2, 65536]) {
    throwsMalformed(() => decodeTpmtPublic(enc({ ...rsa, exponent })), "bad-value");
  }
  // ECC coordinates are bounded by the curve size.
  throwsMalformed(() => decodeTpmtPublic(enc({ ...ecc, x: new Uint8Array(33) })), "too-large");
  throwsMalformed(() => decodeTpmtPublic(enc({ ...ecc, y: new Uint8Array(33) })), "too-large");
  // authPolicy is empty or one nameAlg digest.
  throwsMalformed(() => decodeTpmtPublic(enc({ ...ecc, authPolicy: new Uint8Array(20) })), "bad-length");
  assert.equal(decodeTpmtPublic(enc({ ...ecc, authPolicy: new Uint8Array(32) })).authPolicy.length, 32);
  const raw = enc(ecc);
  const patch = (offset: number, hex: string) => {
    const b = raw.slice();
    b.set(fromHex(hex), offset);
    return b;
  };
  throwsMalformed(() => decodeTpmtPublic(patch(0, "0008")), "unsupported"); // KEYEDHASH
  throwsMalformed(() => decodeTpmtPublic(patch(0, "0025")), "unsupported"); // SYMCIPHER
  throwsMalformed(() => decodeTpmtPublic(patch(0, "0001")), "unsupported"); // ECDSA is no RSA scheme
  throwsMalformed(() => decodeTpmtPublic(patch(2, "0010")), "bad-value"); // nameAlg NULL
  throwsMalformed(() => decodeTpmtPublic(patch(2, "0012")), "unsupported"); // nameAlg SM3
  // ECC layout: type 2, nameAlg 2, attributes 4, authPolicy 2, symmetric 2, scheme 2+2, curveID 2, kdf 2.
  throwsMalformed(() => decodeTpmtPublic(patch(10, "0013")), "unsupported"); // symmetric SM4
  throwsMalformed(() => decodeTpmtPublic(patch(12, "0014")), "unsupported"); // RSASSA on an ECC key
  throwsMalformed(() => decodeTpmtPublic(patch(16, "0001")), "unsupported"); // curve P-192
  throwsMalformed(() => decodeTpmtPublic(patch(18, "0099")), "unsupported"); // unknown KDF
  const aes = enc({ ...ecc, symmetric: { algorithm: "aes", keyBits: 128, mode: "cfb" } });
  assert.deepEqual(decodeTpmtPublic(aes).symmetric, { algorithm: "aes", keyBits: 128, mode: "cfb" });
  const badAesBits = aes.slice();
  badAesBits.set(fromHex("0040"), 12);
  throwsMalformed(() => decodeTpmtPublic(badAesBits), "bad-value");
});

test("TPM2B_PUBLIC framing: empty, truncated, trailing", () => {
  const ak = makeTestAk("ecc-p384");
  throwsMalformed(() => decodeTpm2bPublic(fromHex("0000")), "bad-length");
  for (let n = 0; n < ak.tpm2b.length; n++)
    throwsMalformed(() => decodeTpm2bPublic(ak.tpm2b.subarray(0, n)), "truncated");
  throwsMalformed(() => decodeTpm2bPublic(concatBytes(ak.tpm2b, fromHex("00"))), "trailing-data");
  const inner = ak.tpm2b.subarray(2);
  throwsMalformed(() => decodeTpmtPublic(concatBytes(inner, fromHex("00"))), "trailing-data");
  // A size that leaves the inner structure short of its end is trailing data inside it.
  const longer = concatBytes(fromHex((inner.length + 1).toString(16).padStart(4, "0")), inner, fromHex("00"));
  throwsMalformed(() => decodeTpm2bPublic(longer), "trailing-data");
});

test("decoded structures are copies: changing the input changes nothing", () => {
  const ak = makeTestAk("rsa-2048");
  const input = ak.tpm2b.slice();
  const pub = decodeTpm2bPublic(input);
  const before = encodeTpm2bPublic(fieldsOf(pub));
  input.fill(0);
  assert.deepEqual(encodeTpm2bPublic(fieldsOf(pub)), before);
  assert.ok(Object.isFrozen(pub));
  assert.equal(pub.objectAttributes & TPMA_OBJECT.restricted, TPMA_OBJECT.restricted);
});

test("property: TPMT_PUBLIC and TPM2B_PUBLIC round trip", () => {
  fc.assert(
    fc.property(tpmtPublic, (p) => {
      const raw = encodeTpmtPublic(p);
      const d = decodeTpmtPublic(raw);
      assert.deepEqual(fieldsOf(d), p);
      assert.deepEqual(d.raw, raw);
      assert.deepEqual(decodeTpm2bPublic(encodeTpm2bPublic(p)), d);
    }),
    { numRuns: 500 },
  );
});

test("property: arbitrary and mutated bytes yield only MalformedError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
      onlyMalformed(() => decodeTpmtPublic(b));
      onlyMalformed(() => decodeTpm2bPublic(b));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(mutated(tpmtPublic.map(encodeTpm2bPublic)), (b) => onlyMalformed(() => decodeTpm2bPublic(b))),
    { numRuns: 2000 },
  );
  // Key import of anything that decodes is also only ever a MalformedError.
  fc.assert(
    fc.property(mutated(fc.constantFrom(...SWTPM_VECTORS.map((v) => v.akPublic))), (b) =>
      onlyMalformed(() => publicKeyHandle(decodeTpm2bPublic(b))),
    ),
    { numRuns: 300 },
  );
});
