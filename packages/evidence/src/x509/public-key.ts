import {
  base64urlDecode,
  base64urlEncode,
  bytesEqual,
  DER_TAG,
  type DerElement,
  DerReader,
  MalformedError,
  readOctetAlignedBitString,
  readOid,
} from "@veritee/core";

/** Named curves that TPM and TEE keys use, by their JWK `crv` names (RFC 7518 §6.2.1.1). */
export type EcCurve = "P-256" | "P-384" | "P-521";

/** A decoded public key: what chain verification and key comparison need, independent of its encoding. */
export type PublicKeyInfo =
  | {
      readonly kind: "rsa";
      /** Modulus, big-endian, without leading zero bytes. */
      readonly n: Uint8Array;
      /** Public exponent, big-endian, without leading zero bytes. */
      readonly e: Uint8Array;
      /** Modulus size in bits. */
      readonly bits: number;
    }
  | {
      readonly kind: "ec";
      readonly curve: EcCurve;
      /** Affine x, left-padded to the curve's size. */
      readonly x: Uint8Array;
      /** Affine y, left-padded to the curve's size. */
      readonly y: Uint8Array;
    }
  | {
      /** An algorithm this verifier does not use (e.g. Ed25519); kept so such certificates still decode. */
      readonly kind: "other";
      readonly algorithm: string;
    };

const OID_RSA = "1.2.840.113549.1.1.1";
const OID_EC = "1.2.840.10045.2.1";
const CURVES: ReadonlyMap<string, { curve: EcCurve; size: number }> = new Map([
  ["1.2.840.10045.3.1.7", { curve: "P-256", size: 32 }],
  ["1.3.132.0.34", { curve: "P-384", size: 48 }],
  ["1.3.132.0.35", { curve: "P-521", size: 66 }],
]);
const CURVE_SIZE: Readonly<Record<EcCurve, number>> = { "P-256": 32, "P-384": 48, "P-521": 66 };

/** Largest RSA modulus accepted: 16384 bits, far above any TPM or CA key. */
const MAX_RSA_BYTES = 2048;

function stripLeadingZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.slice(i);
}

function bitLength(n: Uint8Array): number {
  if (n.length === 0 || (n.length === 1 && n[0] === 0)) return 0;
  return (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
}

/**
 * Read an RSA INTEGER as an unsigned magnitude. Some TPM EK certificates encode
 * the modulus without the leading 0x00 that DER needs for a positive value
 * (so it reads as negative); the bytes are unambiguous, so they are accepted as
 * the unsigned value the manufacturer meant.
 */
function readUnsigned(el: DerElement, what: string): Uint8Array {
  if (el.tag !== DER_TAG.INTEGER) throw new MalformedError("bad-value", what, "expected INTEGER");
  if (el.content.length === 0) throw new MalformedError("bad-length", what, "empty INTEGER");
  if (el.content.length > MAX_RSA_BYTES + 1) throw new MalformedError("too-large", what, "INTEGER too large");
  const v = stripLeadingZeros(el.content);
  if (v.length === 1 && v[0] === 0) throw new MalformedError("bad-value", what, "zero");
  return v;
}

function padTo(b: Uint8Array, size: number, what: string): Uint8Array {
  const v = stripLeadingZeros(b);
  if (v.length > size) throw new MalformedError("bad-length", what, `coordinate longer than ${size} bytes`);
  const out = new Uint8Array(size);
  out.set(v, size - v.length);
  return out;
}

/** Decode an EC point: only the uncompressed form (SEC 1 §2.3.3), which TPMs and CAs use. */
function decodeEcPoint(point: Uint8Array, size: number, what: string): { x: Uint8Array; y: Uint8Array } {
  if (point[0] !== 0x04) throw new MalformedError("unsupported", what, "only uncompressed EC points");
  if (point.length !== 1 + 2 * size) throw new MalformedError("bad-length", what, "EC point size");
  return { x: point.slice(1, 1 + size), y: point.slice(1 + size) };
}

/** Decode a SubjectPublicKeyInfo element (RFC 5280 §4.1.2.7, RFC 3279 §2.3). */
export function decodeSpkiElement(el: DerElement, what: string): PublicKeyInfo {
  if (el.tag !== DER_TAG.SEQUENCE) throw new MalformedError("bad-value", what, "expected SEQUENCE");
  const r = new DerReader(el.content, what, 1);
  const alg = r.sequence("algorithm");
  const oid = readOid(alg, "algorithm");
  const keyBits = readOctetAlignedBitString(r.any("subjectPublicKey"), `${what}.subjectPublicKey`);
  r.end();
  if (oid === OID_RSA) {
    // RFC 3279 §2.3.1: the parameters are NULL; some encoders omit them.
    const params = alg.optional(DER_TAG.NULL, "parameters");
    if (params && params.content.length !== 0) throw new MalformedError("bad-value", `${what}.parameters`, "NULL");
    alg.end();
    const key = new DerReader(keyBits, `${what}.RSAPublicKey`, 1).sequence("RSAPublicKey");
    const n = readUnsigned(key.any("modulus"), `${what}.modulus`);
    const e = readUnsigned(key.any("publicExponent"), `${what}.publicExponent`);
    key.end();
    return { kind: "rsa", n, e, bits: bitLength(n) };
  }
  if (oid === OID_EC) {
    // RFC 5480 §2.1.1: namedCurve only; implicit and specified curves are not allowed.
    const curveOid = readOid(alg, "namedCurve");
    alg.end();
    const curve = CURVES.get(curveOid);
    if (!curve) return { kind: "other", algorithm: `${oid}/${curveOid}` };
    const { x, y } = decodeEcPoint(keyBits, curve.size, `${what}.subjectPublicKey`);
    return { kind: "ec", curve: curve.curve, x, y };
  }
  return { kind: "other", algorithm: oid };
}

/**
 * Decode the DER SubjectPublicKeyInfo of a certificate or TPM key, with no
 * trailing data. Unlike core's strict `decodeSpki` (for keys Veritee itself
 * encodes), this reading names the quirks real EK certificates carry (an RSA
 * modulus without its sign byte, absent RSA NULL parameters) and keeps other
 * algorithms as `kind: "other"`.
 */
export function decodeCertificateSpki(spki: Uint8Array): PublicKeyInfo {
  const r = new DerReader(spki, "SubjectPublicKeyInfo");
  const el = r.any("spki");
  r.end();
  return decodeSpkiElement(el, "SubjectPublicKeyInfo");
}

/** The JWK of a public key, for importing it into the crypto backend. */
export function publicKeyToJwk(key: PublicKeyInfo): JsonWebKey {
  switch (key.kind) {
    case "rsa":
      return { kty: "RSA", n: base64urlEncode(key.n), e: base64urlEncode(key.e) };
    case "ec":
      return { kty: "EC", crv: key.curve, x: base64urlEncode(key.x), y: base64urlEncode(key.y) };
    case "other":
      throw new MalformedError("unsupported", "PublicKeyInfo", "no JWK form for this algorithm");
  }
}

/** Decode an RSA or EC public JWK (RFC 7518 §6.2, §6.3) to a {@link PublicKeyInfo}. */
export function publicKeyFromJwk(jwk: JsonWebKey): PublicKeyInfo {
  if (jwk.kty === "RSA") {
    if (typeof jwk.n !== "string" || typeof jwk.e !== "string") {
      throw new MalformedError("bad-value", "JWK", "RSA key without n and e");
    }
    const n = stripLeadingZeros(base64urlDecode(jwk.n, "JWK.n"));
    const e = stripLeadingZeros(base64urlDecode(jwk.e, "JWK.e"));
    if (n.length > MAX_RSA_BYTES) throw new MalformedError("too-large", "JWK.n", "modulus too large");
    return { kind: "rsa", n, e, bits: bitLength(n) };
  }
  if (jwk.kty === "EC") {
    if (jwk.crv !== "P-256" && jwk.crv !== "P-384" && jwk.crv !== "P-521") {
      throw new MalformedError("unsupported", "JWK.crv", "curve");
    }
    if (typeof jwk.x !== "string" || typeof jwk.y !== "string") {
      throw new MalformedError("bad-value", "JWK", "EC key without x and y");
    }
    const size = CURVE_SIZE[jwk.crv];
    return {
      kind: "ec",
      curve: jwk.crv,
      x: padTo(base64urlDecode(jwk.x, "JWK.x"), size, "JWK.x"),
      y: padTo(base64urlDecode(jwk.y, "JWK.y"), size, "JWK.y"),
    };
  }
  throw new MalformedError("unsupported", "JWK.kty", "only RSA and EC keys");
}

/** Whether two decoded public keys are the same key (encodings aside). */
export function publicKeysEqual(a: PublicKeyInfo, b: PublicKeyInfo): boolean {
  if (a.kind === "rsa" && b.kind === "rsa") return bytesEqual(a.n, b.n) && bytesEqual(a.e, b.e);
  if (a.kind === "ec" && b.kind === "ec") return a.curve === b.curve && bytesEqual(a.x, b.x) && bytesEqual(a.y, b.y);
  return false;
}
