/**
 * fast-check arbitraries for valid TPM structures (everything the strict
 * decoders accept), for encode/decode round-trip properties.
 */
import { digestSize, type HashAlg, TPMA_OBJECT_RESERVED } from "@veritee/core";
import fc from "fast-check";
import type { Attested, ClockInfo, TpmsAttest } from "../../src/tpm/attest.js";
import type { PcrBankSelection, PcrSelection } from "../../src/tpm/pcr-selection.js";
import type { EccCurve, EccScheme, KdfScheme, RsaScheme, SymDefObject, TpmtPublic } from "../../src/tpm/public.js";
import type { TpmtSignature } from "../../src/tpm/signature.js";

export const HASHES: readonly HashAlg[] = ["sha1", "sha256", "sha384", "sha512"];

export const hashAlg: fc.Arbitrary<HashAlg> = fc.constantFrom(...HASHES);

/** fc.record with ordinary prototypes, so that deepStrictEqual compares them with decoded objects. */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const bytes = (maxLength: number, minLength = 0) => fc.uint8Array({ minLength, maxLength });
const exactBytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

/** A TPMS_PCR_SELECTION for `hash`. */
function bankSelection(hash: HashAlg): fc.Arbitrary<PcrBankSelection> {
  return fc.constantFrom(3, 4).chain((sizeofSelect) =>
    fc
      .subarray(
        Array.from({ length: 8 * sizeofSelect }, (_, i) => i),
        { minLength: 0 },
      )
      .map((pcrs) => ({ hash, sizeofSelect, pcrs })),
  );
}

/** A TPML_PCR_SELECTION: distinct banks in any order. */
export const pcrSelection: fc.Arbitrary<PcrSelection> = fc
  .shuffledSubarray([...HASHES])
  .chain((banks) => (banks.length === 0 ? fc.constant<PcrSelection>([]) : fc.tuple(...banks.map(bankSelection))));

/** A TPM2B_NAME the decoder accepts: empty, a handle, or alg || digest. */
export const tpmName: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constant(new Uint8Array(0)),
  exactBytes(4),
  hashAlg.chain((h) =>
    exactBytes(digestSize(h)).map((d) => {
      const out = new Uint8Array(2 + d.length);
      const id = { sha1: 4, sha256: 11, sha384: 12, sha512: 13 }[h];
      out[1] = id;
      out.set(d, 2);
      return out;
    }),
  ),
);

const clockInfo: fc.Arbitrary<ClockInfo> = record({
  clock: u64,
  resetCount: u32,
  restartCount: u32,
  safe: fc.boolean(),
});

const attested: fc.Arbitrary<Attested> = fc.oneof(
  record({ type: fc.constant("quote" as const), pcrSelect: pcrSelection, pcrDigest: bytes(64) }),
  record({ type: fc.constant("certify" as const), name: tpmName, qualifiedName: tpmName }),
  record({ type: fc.constant("creation" as const), objectName: tpmName, creationHash: bytes(64) }),
  record({ type: fc.constant("time" as const), time: u64, clockInfo, firmwareVersion: u64 }),
  record({
    type: fc.constant("command-audit" as const),
    auditCounter: u64,
    digestAlg: hashAlg,
    auditDigest: bytes(64),
    commandDigest: bytes(64),
  }),
  record({ type: fc.constant("session-audit" as const), exclusiveSession: fc.boolean(), sessionDigest: bytes(64) }),
  record({
    type: fc.constant("nv" as const),
    indexName: tpmName,
    offset: fc.integer({ min: 0, max: 0xffff }),
    nvContents: bytes(2048),
  }),
  record({ type: fc.constant("nv-digest" as const), indexName: tpmName, nvDigest: bytes(64) }),
);

/** A TPMS_ATTEST of any type. */
export const tpmsAttest: fc.Arbitrary<TpmsAttest> = record({
  qualifiedSigner: tpmName,
  extraData: bytes(66),
  clockInfo,
  firmwareVersion: u64,
  attested,
});

/** A TPMT_SIGNATURE. */
export const tpmtSignature: fc.Arbitrary<TpmtSignature> = fc.oneof(
  record({ sigAlg: fc.constantFrom("rsassa" as const, "rsapss" as const), hash: hashAlg, sig: bytes(512) }),
  record({ sigAlg: fc.constant("ecdsa" as const), hash: hashAlg, r: bytes(66), s: bytes(66) }),
);

const symmetric: fc.Arbitrary<SymDefObject> = fc.oneof(
  fc.constant({ algorithm: "null" as const }),
  record({
    algorithm: fc.constant("aes" as const),
    keyBits: fc.constantFrom(128 as const, 192 as const, 256 as const),
    mode: fc.constantFrom(
      "ctr" as const,
      "ofb" as const,
      "cbc" as const,
      "cfb" as const,
      "ecb" as const,
      "null" as const,
    ),
  }),
);

const rsaScheme: fc.Arbitrary<RsaScheme> = fc.oneof(
  fc.constant({ scheme: "null" as const }),
  fc.constant({ scheme: "rsaes" as const }),
  record({ scheme: fc.constantFrom("rsassa" as const, "rsapss" as const, "oaep" as const), hash: hashAlg }),
);

const eccScheme: fc.Arbitrary<EccScheme> = fc.oneof(
  fc.constant({ scheme: "null" as const }),
  record({
    scheme: fc.constantFrom("ecdsa" as const, "ecdh" as const, "ecschnorr" as const, "sm2" as const, "ecmqv" as const),
    hash: hashAlg,
  }),
  record({ scheme: fc.constant("ecdaa" as const), hash: hashAlg, count: fc.integer({ min: 0, max: 0xffff }) }),
);

const kdf: fc.Arbitrary<KdfScheme> = fc.oneof(
  fc.constant({ scheme: "null" as const }),
  record({
    scheme: fc.constantFrom("mgf1" as const, "kdf1-sp800-56a" as const, "kdf2" as const, "kdf1-sp800-108" as const),
    hash: hashAlg,
  }),
);

const CURVE_SIZES: Readonly<Record<EccCurve, number>> = { p256: 32, p384: 48, p521: 66 };

/** A TPMT_PUBLIC of an RSA or ECC key (random key material: structurally valid, not a real key). */
export const tpmtPublic: fc.Arbitrary<TpmtPublic> = hashAlg.chain((nameAlg) => {
  const common = {
    nameAlg: fc.constant(nameAlg),
    objectAttributes: u32.map((a) => (a & ~TPMA_OBJECT_RESERVED) >>> 0),
    authPolicy: fc.oneof(fc.constant(new Uint8Array(0)), exactBytes(digestSize(nameAlg))),
    symmetric,
  };
  const rsa = fc.constantFrom(1024, 2048, 3072, 4096).chain((keyBits) =>
    record({
      ...common,
      type: fc.constant("rsa" as const),
      scheme: rsaScheme,
      keyBits: fc.constant(keyBits),
      exponent: fc.oneof(
        fc.constant(0),
        fc.constant(65537),
        fc.integer({ min: 1, max: 0x7fffffff }).map((e) => e * 2 + 1),
      ),
      modulus: exactBytes(keyBits / 8),
    }),
  );
  const ecc = fc.constantFrom<EccCurve>("p256", "p384", "p521").chain((curve) =>
    record({
      ...common,
      type: fc.constant("ecc" as const),
      scheme: eccScheme,
      curve: fc.constant(curve),
      kdf,
      x: bytes(CURVE_SIZES[curve]),
      y: bytes(CURVE_SIZES[curve]),
    }),
  );
  return fc.oneof(rsa, ecc);
});

/** Bytes with one to three positions changed, for mutation properties on valid encodings. */
export function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return valid.chain((b) =>
    b.length === 0
      ? fc.constant(b)
      : fc
          .array(fc.tuple(fc.integer({ min: 0, max: b.length - 1 }), fc.integer({ min: 1, max: 255 })), {
            minLength: 1,
            maxLength: 3,
          })
          .map((edits) => {
            const out = b.slice();
            for (const [i, x] of edits) out[i]! ^= x;
            return out;
          }),
  );
}
