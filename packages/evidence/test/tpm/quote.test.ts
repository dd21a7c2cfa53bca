import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import { concatBytes, type HashAlg, MalformedError, TPMA_OBJECT, toHex } from "@veritee/core";
import fc from "fast-check";
import { VerificationError } from "../../src/errors.js";
import { decodeAkPublic } from "../../src/tpm/ak.js";
import { decodeTpmsAttest } from "../../src/tpm/attest.js";
import { decodePcrValuesFile, type PcrValues, pcrDigest } from "../../src/tpm/pcr-selection.js";
import { decodeTpm2bPublic } from "../../src/tpm/public.js";
import { VerifiedQuote, type VerifyQuoteInput, verifyQuote } from "../../src/tpm/quote.js";
import { AK_ATTRIBUTES, type ForgedQuote, forgeQuote, makeTestAk, type TestAk } from "./forge.js";
import { SWTPM_VECTORS } from "./swtpm-vectors.js";
import { rejectsWith, settlesTyped } from "./typed.js";

function inputOf(q: ForgedQuote, extra: Partial<VerifyQuoteInput> = {}): VerifyQuoteInput {
  return {
    akPublic: q.akPublic,
    attest: q.attest,
    signature: q.signature,
    expectedExtraData: q.nonce,
    pcrValues: q.pcrValues,
    ...extra,
  };
}

/** The four AK flavours the brief asks for: ECDSA P-256, ECDSA P-384, RSASSA, RSAPSS. */
function flavours(): { label: string; ak: TestAk }[] {
  return [
    { label: "ECDSA P-256", ak: makeTestAk("ecc-p256") },
    { label: "ECDSA P-384", ak: makeTestAk("ecc-p384", { scheme: { scheme: "ecdsa", hash: "sha384" } }) },
    { label: "RSASSA", ak: makeTestAk("rsa-2048", { scheme: { scheme: "rsassa", hash: "sha256" } }) },
    { label: "RSAPSS", ak: makeTestAk("rsa-2048", { scheme: { scheme: "rsapss", hash: "sha256" } }) },
  ];
}

test("valid quotes verify: ECDSA P-256, P-384, RSASSA, RSAPSS", async () => {
  for (const { label, ak } of flavours()) {
    const q = forgeQuote(ak);
    const v = await verifyQuote(inputOf(q));
    assert.ok(VerifiedQuote.is(v), label);
    assert.deepEqual(v.akName, ak.name, label);
    assert.deepEqual(v.extraData, q.nonce, label);
    assert.deepEqual(v.pcrSelection, q.attestFields.attested.type === "quote" ? q.attestFields.attested.pcrSelect : []);
    assert.equal(v.signatureHash, label === "ECDSA P-384" ? "sha384" : "sha256");
    assert.deepEqual(v.pcrValues, q.pcrValues, label);
    assert.equal(v.clockInfo.clock, 123456789n);
    assert.equal(v.firmwareVersion, 0x2019102300163636n);
    assert.deepEqual(v.qualifiedSigner, q.attestFields.qualifiedSigner);
    assert.equal(v.akPublic.type, ak.fields.type);
    assert.ok(Object.isFrozen(v));
    // The same with a pre-decoded AK (key imported once) and with a decoded public area.
    const ak2 = decodeAkPublic(q.akPublic);
    assert.deepEqual((await verifyQuote(inputOf(q, { akPublic: ak2 }))).akName, ak.name);
    assert.deepEqual((await verifyQuote(inputOf(q, { akPublic: decodeTpm2bPublic(q.akPublic) }))).akName, ak.name);
    // Without PCR values, the quote verifies but reports none.
    assert.equal((await verifyQuote(inputOf(q, { pcrValues: undefined }))).pcrValues, undefined);
    // A pinned AK Name.
    await verifyQuote(inputOf(q, { expectedAkName: ak.name }));
  }
});

test("real swtpm quotes verify (ECDSA P-256, RSAPSS, RSASSA; sha1 + sha256 banks)", async () => {
  for (const vec of SWTPM_VECTORS) {
    const attest = decodeTpmsAttest(vec.attest);
    if (attest.attested.type !== "quote") throw new Error("not a quote");
    const pcrValues = decodePcrValuesFile(vec.pcrValuesFile, attest.attested.pcrSelect);
    const v = await verifyQuote({
      akPublic: vec.akPublic,
      attest: vec.attest,
      signature: vec.signature,
      expectedExtraData: vec.nonce,
      pcrValues,
      requirePcrValues: true,
      expectedAkName: vec.akName,
    });
    assert.deepEqual(v.akName, vec.akName, vec.description);
    assert.equal(toHex(v.pcrValues?.get("sha256")?.get(16) ?? new Uint8Array(0)).slice(0, 8), "90f4b395");
  }
});

test("a key with a NULL scheme accepts either RSA scheme and any ECDSA hash but SHA-1", async () => {
  const rsa = makeTestAk("rsa-2048", { scheme: { scheme: "null" } });
  await verifyQuote(inputOf(forgeQuote(rsa, { sigAlg: "rsapss", signatureHash: "sha384" })));
  await verifyQuote(inputOf(forgeQuote(rsa, { sigAlg: "rsassa", signatureHash: "sha512" })));
  const ecc = makeTestAk("ecc-p256", { scheme: { scheme: "null" } });
  await verifyQuote(inputOf(forgeQuote(ecc, { signatureHash: "sha384" })));
  await rejectsWith(
    verifyQuote(inputOf(forgeQuote(ecc, { signatureHash: "sha1" }))),
    VerificationError,
    "unsupported-algorithm",
  );
});

test("signature-scheme-mismatch: the signature must fit the key type and the key's scheme", async () => {
  const rsa = makeTestAk("rsa-2048", { scheme: { scheme: "rsassa", hash: "sha256" } });
  const ecc = makeTestAk("ecc-p256");
  const ecdsaSig = forgeQuote(ecc).signature;
  const rsaSig = forgeQuote(rsa).signature;
  await rejectsWith(
    verifyQuote(inputOf(forgeQuote(rsa), { signature: ecdsaSig })),
    VerificationError,
    "signature-scheme-mismatch",
  );
  await rejectsWith(
    verifyQuote(inputOf(forgeQuote(ecc), { signature: rsaSig })),
    VerificationError,
    "signature-scheme-mismatch",
  );
  await rejectsWith(
    verifyQuote(inputOf(forgeQuote(rsa, { sigAlg: "rsapss" }))),
    VerificationError,
    "signature-scheme-mismatch",
  );
  await rejectsWith(
    verifyQuote(inputOf(forgeQuote(rsa, { signatureHash: "sha384" }))),
    VerificationError,
    "signature-scheme-mismatch",
  );
  await rejectsWith(
    verifyQuote(inputOf(forgeQuote(ecc, { signatureHash: "sha512" }))),
    VerificationError,
    "signature-scheme-mismatch",
  );
  const ecdaa = makeTestAk("ecc-p256", { scheme: { scheme: "ecdaa", hash: "sha256", count: 1 } });
  await rejectsWith(
    verifyQuote(inputOf(forgeQuote(ecdaa, { sigAlg: "ecdsa" }))),
    VerificationError,
    "signature-scheme-mismatch",
  );
  const decryptScheme = makeTestAk("rsa-2048", { scheme: { scheme: "oaep", hash: "sha256" } });
  await rejectsWith(
    verifyQuote(inputOf(forgeQuote(decryptScheme, { sigAlg: "rsassa" }))),
    VerificationError,
    "signature-scheme-mismatch",
  );
});

test("ak-attributes: restricted, sign, fixedTPM, fixedParent, sensitiveDataOrigin required; decrypt refused", async () => {
  for (const bit of ["restricted", "sign", "fixedTPM", "fixedParent", "sensitiveDataOrigin"] as const) {
    const ak = makeTestAk("ecc-p256", { objectAttributes: AK_ATTRIBUTES & ~TPMA_OBJECT[bit] });
    await rejectsWith(verifyQuote(inputOf(forgeQuote(ak))), VerificationError, "ak-attributes");
  }
  const decrypt = makeTestAk("ecc-p256", { objectAttributes: AK_ATTRIBUTES | TPMA_OBJECT.decrypt });
  await rejectsWith(verifyQuote(inputOf(forgeQuote(decrypt))), VerificationError, "ak-attributes");
});

test("an RSA AK under 2048 bits is refused", async () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const n = new Uint8Array(Buffer.from(publicKey.export({ format: "jwk" }).n!, "base64url"));
  const base = makeTestAk("rsa-2048");
  const small: TestAk = {
    ...makeTestAk("rsa-2048", { edit: (f) => ({ ...f, keyBits: 1024, modulus: n }) as typeof f }),
    privateKey,
  };
  assert.notDeepEqual(small.tpm2b, base.tpm2b);
  await rejectsWith(verifyQuote(inputOf(forgeQuote(small))), VerificationError, "unsupported-algorithm");
});

test("signature-invalid: another key, or a signature over other bytes", async () => {
  for (const { ak } of flavours()) {
    const other =
      ak.kind === "rsa-2048"
        ? generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey
        : generateKeyPairSync("ec", { namedCurve: ak.kind === "ecc-p256" ? "P-256" : "P-384" }).privateKey;
    await rejectsWith(
      verifyQuote(inputOf(forgeQuote(ak, { signingKey: other }))),
      VerificationError,
      "signature-invalid",
    );
    // A valid signature over one quote, presented with another quote.
    const a = forgeQuote(ak);
    const b = forgeQuote(ak, { nonce: new Uint8Array(32) });
    await rejectsWith(verifyQuote(inputOf(a, { signature: b.signature })), VerificationError, "signature-invalid");
  }
});

test("ECDSA r and s: leading zero bytes may be dropped or added; longer values are invalid", async () => {
  const ak = makeTestAk("ecc-p256");
  const padded = forgeQuote(ak, {
    editSignature: (s) => (s.sigAlg === "ecdsa" ? { ...s, r: concatBytes(new Uint8Array(2), s.r) } : s),
  });
  await verifyQuote(inputOf(padded));
  const longer = forgeQuote(ak, {
    editSignature: (s) => (s.sigAlg === "ecdsa" ? { ...s, s: concatBytes(new Uint8Array([1]), s.s) } : s),
  });
  await rejectsWith(verifyQuote(inputOf(longer)), VerificationError, "signature-invalid");
});

test("attest-type: a signed certify structure is not a quote", async () => {
  const ak = makeTestAk("ecc-p256");
  const q = forgeQuote(ak, {
    editAttest: (a) => ({ ...a, attested: { type: "certify", name: ak.name, qualifiedName: ak.name } }),
  });
  await rejectsWith(verifyQuote(inputOf(q)), VerificationError, "attest-type");
});

test("nonce-mismatch: other bytes, shorter, longer, empty", async () => {
  const q = forgeQuote(makeTestAk("ecc-p256"));
  const other = q.nonce.slice();
  other[31]! ^= 1;
  for (const expectedExtraData of [
    other,
    q.nonce.subarray(1),
    concatBytes(q.nonce, new Uint8Array(1)),
    new Uint8Array(0),
  ]) {
    await rejectsWith(verifyQuote(inputOf(q, { expectedExtraData })), VerificationError, "nonce-mismatch");
  }
});

test("PCR values: wrong value, missing value, missing bank, none when required, wrong size", async () => {
  const q = forgeQuote(makeTestAk("rsa-2048"));
  const edit = (f: (m: Map<HashAlg, Map<number, Uint8Array>>) => void): PcrValues => {
    const copy = new Map([...q.pcrValues].map(([h, bank]) => [h, new Map(bank)]));
    f(copy);
    return copy;
  };
  const wrong = edit((m) => {
    const v = m.get("sha256")!.get(7)!.slice();
    v[0]! ^= 1;
    m.get("sha256")!.set(7, v);
  });
  await rejectsWith(verifyQuote(inputOf(q, { pcrValues: wrong })), VerificationError, "pcr-digest-mismatch");
  const missing = edit((m) => m.get("sha256")!.delete(16));
  await rejectsWith(verifyQuote(inputOf(q, { pcrValues: missing })), VerificationError, "pcr-values-missing");
  const noBank = edit((m) => m.delete("sha1"));
  await rejectsWith(verifyQuote(inputOf(q, { pcrValues: noBank })), VerificationError, "pcr-values-missing");
  await rejectsWith(
    verifyQuote(inputOf(q, { pcrValues: undefined, requirePcrValues: true })),
    VerificationError,
    "pcr-values-missing",
  );
  const long = edit((m) => m.get("sha1")!.set(0, new Uint8Array(32)));
  await rejectsWith(verifyQuote(inputOf(q, { pcrValues: long })), MalformedError, "bad-length");
  // Extra, unselected values are ignored and not reported as verified.
  const extra = edit((m) => {
    m.get("sha256")!.set(23, new Uint8Array(32));
    m.set("sha384", new Map([[0, new Uint8Array(48)]]));
  });
  const v = await verifyQuote(inputOf(q, { pcrValues: extra }));
  assert.equal(v.pcrValues?.get("sha256")?.has(23), false);
  assert.equal(v.pcrValues?.has("sha384"), false);
  // The verified values are copies.
  const before = toHex(v.pcrValues!.get("sha256")!.get(0)!);
  extra.get("sha256")!.get(0)!.fill(0);
  assert.equal(toHex(v.pcrValues!.get("sha256")!.get(0)!), before);
});

test("the PCR digest uses the signing scheme's hash (Part 3 §18.4), not nameAlg or the bank's", async () => {
  // P-384 AK, nameAlg SHA-256, PCR bank SHA-256, scheme ECDSA-SHA384: the digest is SHA-384.
  const ak = makeTestAk("ecc-p384", { scheme: { scheme: "ecdsa", hash: "sha384" } });
  const good = forgeQuote(ak);
  await verifyQuote(inputOf(good));
  for (const alg of ["sha256", "sha1"] as const) {
    const q = forgeQuote(ak, {
      editAttest: (a) =>
        a.attested.type === "quote"
          ? { ...a, attested: { ...a.attested, pcrDigest: pcrDigest(alg, a.attested.pcrSelect, good.pcrValues) } }
          : a,
    });
    await rejectsWith(verifyQuote(inputOf(q)), VerificationError, "pcr-digest-mismatch");
  }
});

test("name-mismatch when a pinned AK Name differs", async () => {
  const q = forgeQuote(makeTestAk("ecc-p256"));
  const name = decodeTpm2bPublic(q.akPublic).name.slice();
  name[5]! ^= 1;
  await rejectsWith(verifyQuote(inputOf(q, { expectedAkName: name })), VerificationError, "name-mismatch");
});

test("signed but malformed TPMS_ATTEST is a MalformedError (magic, trailing data)", async () => {
  const ak = makeTestAk("ecc-p256");
  const magic = forgeQuote(ak, {
    editAttestBytes: (b) => {
      const c = b.slice();
      c[3] = 0x48;
      return c;
    },
  });
  await rejectsWith(verifyQuote(inputOf(magic)), MalformedError, "bad-magic");
  const trailing = forgeQuote(ak, { editAttestBytes: (b) => concatBytes(b, new Uint8Array(1)) });
  await rejectsWith(verifyQuote(inputOf(trailing)), MalformedError, "trailing-data");
});

test("truncated inputs are MalformedError truncated; trailing bytes are trailing-data", async () => {
  for (const { ak } of flavours()) {
    const q = forgeQuote(ak);
    for (const field of ["attest", "signature", "akPublic"] as const) {
      const whole = q[field];
      for (let n = 0; n < whole.length; n++) {
        await rejectsWith(verifyQuote(inputOf(q, { [field]: whole.subarray(0, n) })), MalformedError, "truncated");
      }
      await rejectsWith(
        verifyQuote(inputOf(q, { [field]: concatBytes(whole, new Uint8Array([0])) })),
        MalformedError,
        "trailing-data",
      );
    }
  }
});

const DELTAS = [0x01, 0x02, 0x80, 0xff];

/** Every single-byte change of `field` (each byte xor each delta). */
function* byteMutations(bytes: Uint8Array): Generator<[number, Uint8Array]> {
  for (let i = 0; i < bytes.length; i++) {
    for (const d of DELTAS) {
      const m = bytes.slice();
      m[i]! ^= d;
      yield [i, m];
    }
  }
}

test("every single-byte change of the attest message or the signature is rejected with a typed error", async () => {
  for (const { label, ak } of flavours()) {
    const q = forgeQuote(ak);
    const akPublic = decodeAkPublic(q.akPublic);
    for (const field of ["attest", "signature"] as const) {
      for (const [i, m] of byteMutations(q[field])) {
        const r = await settlesTyped(verifyQuote(inputOf(q, { akPublic, [field]: m })));
        assert.ok("error" in r, `${label}: ${field} byte ${i} changed and still verified`);
      }
    }
  }
});

test("every single-byte change of a real swtpm quote or its signature is rejected with a typed error", async () => {
  for (const vec of SWTPM_VECTORS) {
    const akPublic = decodeAkPublic(vec.akPublic);
    const base = { akPublic, attest: vec.attest, signature: vec.signature, expectedExtraData: vec.nonce };
    await verifyQuote(base);
    for (const field of ["attest", "signature"] as const) {
      for (const [i, m] of byteMutations(vec[field])) {
        const r = await settlesTyped(verifyQuote({ ...base, [field]: m }));
        assert.ok("error" in r, `${vec.description}: ${field} byte ${i} changed and still verified`);
      }
    }
  }
});

test("every single-byte change of the AK public area is rejected, or changes the AK Name", async () => {
  for (const { label, ak } of flavours()) {
    const q = forgeQuote(ak);
    let acceptedWithOtherName = 0;
    for (const [i, m] of byteMutations(q.akPublic)) {
      const r = await settlesTyped(verifyQuote(inputOf(q, { akPublic: m })));
      if ("ok" in r) {
        // Only attribute bits that do not matter to a signature (e.g. userWithAuth,
        // noDA) or nameAlg can change and still verify; the Name then differs, and
        // a pinned Name catches it.
        assert.notDeepEqual(r.ok.akName, ak.name, `${label}: AK byte ${i} changed, same Name`);
        assert.ok(i >= 2 && i < 10, `${label}: AK byte ${i} (outside nameAlg/objectAttributes) changed and verified`);
        acceptedWithOtherName++;
        await rejectsWith(
          verifyQuote(inputOf(q, { akPublic: m, expectedAkName: ak.name })),
          VerificationError,
          "name-mismatch",
        );
      }
    }
    // With the TCG AK attributes, only adminWithPolicy (byte 9 ^ 0x80) is such a bit.
    assert.equal(acceptedWithOtherName, 1, label);
  }
});

test("VerifiedQuote cannot be made outside verifyQuote", async () => {
  const v = await verifyQuote(inputOf(forgeQuote(makeTestAk("ecc-p256"))));
  const Ctor = VerifiedQuote as unknown as new (token: symbol, init: unknown) => VerifiedQuote;
  assert.throws(() => new Ctor(Symbol("VerifiedQuote"), {}), TypeError);
  const lookalike = Object.create(VerifiedQuote.prototype) as VerifiedQuote;
  assert.equal(VerifiedQuote.is(lookalike), false);
  assert.equal(VerifiedQuote.is({ ...v }), false);
  assert.equal(VerifiedQuote.is(v), true);
});

test("property: random inputs give only MalformedError or VerificationError", async () => {
  const q = forgeQuote(makeTestAk("ecc-p256"));
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom("attest" as const, "signature" as const, "akPublic" as const),
      fc.uint8Array({ maxLength: 200 }),
      async (field, bytes) => {
        const r = await settlesTyped(verifyQuote(inputOf(q, { [field]: bytes })));
        assert.ok("error" in r);
      },
    ),
    { numRuns: 500 },
  );
});
