/**
 * DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) ⇄ JWK (RFC 7517/7518) for the
 * two key types evidence carries: RSA (RFC 3279 §2.3.1, RFC 8017 §A.1.1) and
 * EC on the NIST curves (RFC 5480 §2). Core needs this so the browser
 * backend can import and export keys synchronously without a platform API;
 * it shares nothing with evidence's X.509 decoder, which core must not
 * depend on.
 *
 * The decoder reads through core's strict DER reader (der.ts): definite minimal lengths, minimal positive
 * INTEGERs, NULL RSA parameters, uncompressed EC points of the curve's size,
 * no trailing bytes at any level. Anything else is a `MalformedError`.
 */
import { base64urlDecode, base64urlEncode } from "./base64url.js";
import { concatBytes } from "./bytes.js";
import { DerReader } from "./der.js";
import { derTlv, derUnsigned } from "./der-encode.js";
import { MalformedError } from "./errors.js";

/** The NIST curves, by their JWK names (RFC 7518 §6.2.1.1). */
export type NistCurve = "P-256" | "P-384" | "P-521";

/** A public key's numbers, decoded from a JWK or SPKI. Integers are minimal big-endian; EC coordinates full-size. */
export type PublicKeyParts =
  | { readonly kty: "RSA"; readonly n: Uint8Array; readonly e: Uint8Array }
  | { readonly kty: "EC"; readonly crv: NistCurve; readonly x: Uint8Array; readonly y: Uint8Array };

/** Field element size in bytes of each curve (SEC 1 §2.3.5). */
export const CURVE_SIZES: Readonly<Record<NistCurve, number>> = { "P-256": 32, "P-384": 48, "P-521": 66 };

const WHAT = "SubjectPublicKeyInfo";
/** RSA moduli up to 16384 bits (plus a sign byte); exponents up to 64 bits. */
const MAX_MODULUS_BYTES = 2049;
const MAX_EXPONENT_BYTES = 8;

const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_NULL = 0x05;
const TAG_OID = 0x06;
const TAG_SEQUENCE = 0x30;

// OID contents (X.690 §8.19): rsaEncryption 1.2.840.113549.1.1.1 (RFC 3279 §2.3.1),
// id-ecPublicKey 1.2.840.10045.2.1 and the named curves (RFC 5480 §2.1.1.1).
const OID_RSA = Uint8Array.of(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01);
const OID_EC = Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01);
const CURVE_OIDS: readonly (readonly [NistCurve, Uint8Array])[] = [
  ["P-256", Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07)],
  ["P-384", Uint8Array.of(0x2b, 0x81, 0x04, 0x00, 0x22)],
  ["P-521", Uint8Array.of(0x2b, 0x81, 0x04, 0x00, 0x23)],
];

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Core's strict DER reader, narrowed to "the next field has this tag; give me its contents". */
class Der {
  readonly #reader: DerReader;
  constructor(bytes: Uint8Array, what: string) {
    this.#reader = new DerReader(bytes, what);
  }

  /** Read one TLV with tag `tag`; returns a copy of its contents. */
  read(tag: number, field: string): Uint8Array {
    return this.#reader.expect(tag, field).content;
  }

  /** No bytes may follow the last field. */
  end(): void {
    this.#reader.end();
  }
}

/** A DER INTEGER that must be positive and minimally encoded (X.690 §8.3.2); returns its magnitude. */
function positiveInteger(content: Uint8Array, what: string, maxBytes: number): Uint8Array {
  if (content.length === 0) throw new MalformedError("bad-length", what, "empty INTEGER");
  if (content.length > maxBytes) throw new MalformedError("too-large", what);
  if (content[0]! & 0x80) throw new MalformedError("bad-value", what, "negative INTEGER");
  if (content[0] === 0 && content.length > 1 && (content[1]! & 0x80) === 0) {
    throw new MalformedError("bad-value", what, "non-minimal INTEGER");
  }
  const magnitude = content[0] === 0 ? content.slice(1) : content;
  if (magnitude.length === 0) throw new MalformedError("bad-value", what, "zero");
  return magnitude;
}

/**
 * Decode a DER SubjectPublicKeyInfo holding an RSA key or an EC key on
 * P-256, P-384 or P-521. Throws `MalformedError` naming the field for
 * anything that is not strict DER of that shape, `unsupported` for other
 * algorithms, curves and compressed points. Does not check that an EC point
 * is on its curve (see {@link isOnCurve}).
 *
 * @example
 * ```ts
 * const key = decodeSpki(spkiDer); // { kty: "EC", crv: "P-256", x, y }
 * ```
 */
export function decodeSpki(der: Uint8Array): PublicKeyParts {
  const outer = new Der(der, WHAT);
  const spki = new Der(outer.read(TAG_SEQUENCE, "SEQUENCE"), WHAT);
  outer.end();
  const algorithm = new Der(spki.read(TAG_SEQUENCE, "algorithm"), `${WHAT}.algorithm`);
  const bitString = spki.read(TAG_BIT_STRING, "subjectPublicKey");
  spki.end();
  const oid = algorithm.read(TAG_OID, "algorithm");
  // X.690 §11.2.1: a key is whole octets, so the unused-bits count is zero.
  if (bitString.length === 0 || bitString[0] !== 0) {
    throw new MalformedError("bad-value", `${WHAT}.subjectPublicKey`, "unused bits");
  }
  const key = bitString.subarray(1);
  if (same(oid, OID_RSA)) {
    // RFC 3279 §2.3.1: the parameters field MUST be NULL.
    if (algorithm.read(TAG_NULL, "parameters").length !== 0) {
      throw new MalformedError("bad-value", `${WHAT}.algorithm.parameters`, "not NULL");
    }
    algorithm.end();
    const outerKey = new Der(key, "RSAPublicKey");
    const rsa = new Der(outerKey.read(TAG_SEQUENCE, "SEQUENCE"), "RSAPublicKey");
    outerKey.end();
    const n = positiveInteger(rsa.read(TAG_INTEGER, "modulus"), "RSAPublicKey.modulus", MAX_MODULUS_BYTES);
    const e = positiveInteger(
      rsa.read(TAG_INTEGER, "publicExponent"),
      "RSAPublicKey.publicExponent",
      MAX_EXPONENT_BYTES + 1,
    );
    rsa.end();
    return { kty: "RSA", n, e };
  }
  if (same(oid, OID_EC)) {
    // RFC 5480 §2.1.1: namedCurve only (implicit and specified curves are not allowed).
    const curveOid = algorithm.read(TAG_OID, "parameters");
    algorithm.end();
    const crv = CURVE_OIDS.find(([, o]) => same(o, curveOid))?.[0];
    if (!crv) throw new MalformedError("unsupported", `${WHAT}.algorithm.parameters`, "curve");
    const size = CURVE_SIZES[crv];
    // SEC 1 §2.3.3: 0x04 ‖ X ‖ Y; compressed points (0x02/0x03) are not accepted.
    if (key[0] !== 0x04) throw new MalformedError("unsupported", "ECPoint", "not an uncompressed point");
    if (key.length !== 1 + 2 * size) throw new MalformedError("bad-length", "ECPoint");
    return { kty: "EC", crv, x: key.slice(1, 1 + size), y: key.slice(1 + size) };
  }
  throw new MalformedError("unsupported", `${WHAT}.algorithm`, "not RSA or EC");
}

/**
 * Encode a public key as DER SubjectPublicKeyInfo (the inverse of
 * {@link decodeSpki}).
 *
 * @example
 * ```ts
 * const der = encodeSpki(decodeSpki(spkiDer)); // equal to spkiDer
 * ```
 */
export function encodeSpki(key: PublicKeyParts): Uint8Array {
  if (key.kty === "RSA") {
    const rsaKey = derTlv(TAG_SEQUENCE, concatBytes(derUnsigned(key.n), derUnsigned(key.e)));
    const algorithm = derTlv(TAG_SEQUENCE, concatBytes(derTlv(TAG_OID, OID_RSA), derTlv(TAG_NULL, new Uint8Array(0))));
    return derTlv(TAG_SEQUENCE, concatBytes(algorithm, derTlv(TAG_BIT_STRING, concatBytes(Uint8Array.of(0), rsaKey))));
  }
  const curveOid = CURVE_OIDS.find(([c]) => c === key.crv)![1];
  const algorithm = derTlv(TAG_SEQUENCE, concatBytes(derTlv(TAG_OID, OID_EC), derTlv(TAG_OID, curveOid)));
  const point = concatBytes(Uint8Array.of(0, 0x04), key.x, key.y);
  return derTlv(TAG_SEQUENCE, concatBytes(algorithm, derTlv(TAG_BIT_STRING, point)));
}

function member(jwk: JsonWebKey, name: "n" | "e" | "x" | "y"): Uint8Array {
  const v = jwk[name];
  if (typeof v !== "string") throw new MalformedError("bad-value", `jwk.${name}`, "missing");
  return base64urlDecode(v, `jwk.${name}`);
}

/**
 * The numbers of a public JWK: RSA `n`/`e` (RFC 7518 §6.3.1) or EC
 * `crv`/`x`/`y` on a NIST curve with full-size coordinates (§6.2.1).
 * Leading zero bytes of `n` and `e` are dropped. Other members are ignored;
 * a private member (`d`) is refused so a private key is never handled as a
 * public one. Throws `MalformedError` naming the member.
 *
 * @example
 * ```ts
 * const parts = publicKeyFromJwk({ kty: "EC", crv: "P-256", x, y });
 * ```
 */
export function publicKeyFromJwk(jwk: JsonWebKey): PublicKeyParts {
  if (jwk.d !== undefined) throw new MalformedError("bad-value", "jwk.d", "a private key");
  if (jwk.kty === "RSA") {
    const strip = (v: Uint8Array, what: string, max: number) => {
      let s = 0;
      while (s < v.length && v[s] === 0) s++;
      if (s === v.length) throw new MalformedError("bad-value", what, "zero");
      if (v.length - s > max) throw new MalformedError("too-large", what);
      return v.slice(s);
    };
    return {
      kty: "RSA",
      n: strip(member(jwk, "n"), "jwk.n", MAX_MODULUS_BYTES - 1),
      e: strip(member(jwk, "e"), "jwk.e", MAX_EXPONENT_BYTES),
    };
  }
  if (jwk.kty === "EC") {
    const crv = jwk.crv;
    if (crv !== "P-256" && crv !== "P-384" && crv !== "P-521") {
      throw new MalformedError("unsupported", "jwk.crv");
    }
    const x = member(jwk, "x");
    const y = member(jwk, "y");
    // RFC 7518 §6.2.1.2: the full coordinate size, leading zeros included.
    if (x.length !== CURVE_SIZES[crv]) throw new MalformedError("bad-length", "jwk.x");
    if (y.length !== CURVE_SIZES[crv]) throw new MalformedError("bad-length", "jwk.y");
    return { kty: "EC", crv, x, y };
  }
  throw new MalformedError("unsupported", "jwk.kty");
}

/**
 * The JWK of a public key (the inverse of {@link publicKeyFromJwk}).
 *
 * @example
 * ```ts
 * publicKeyJwkOf(decodeSpki(spkiDer)); // { kty: "RSA", n, e }
 * ```
 */
export function publicKeyJwkOf(key: PublicKeyParts): JsonWebKey {
  return key.kty === "RSA"
    ? { kty: "RSA", n: base64urlEncode(key.n), e: base64urlEncode(key.e) }
    : { kty: "EC", crv: key.crv, x: base64urlEncode(key.x), y: base64urlEncode(key.y) };
}

// Curve parameters of FIPS 186-4 §D.1.2 (a = -3 for all three curves).
const CURVE_PARAMS: Readonly<Record<NistCurve, { readonly p: bigint; readonly b: bigint }>> = {
  "P-256": {
    p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  "P-384": {
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
  "P-521": {
    p: 2n ** 521n - 1n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
  },
};

function toBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/**
 * Whether (x, y) is a point of `crv` other than the point at infinity, i.e.
 * both coordinates are field elements and y² = x³ - 3x + b (mod p) (SEC 1
 * §3.2.2.1 public key validation; the NIST curves have cofactor 1, so no
 * subgroup check is needed). Points off the curve enable invalid-curve
 * attacks on ECDH.
 *
 * @example
 * ```ts
 * if (!isOnCurve("P-256", x, y)) throw new Error("not a P-256 point");
 * ```
 */
export function isOnCurve(crv: NistCurve, x: Uint8Array, y: Uint8Array): boolean {
  const { p, b } = CURVE_PARAMS[crv];
  const X = toBigInt(x);
  const Y = toBigInt(y);
  if (X >= p || Y >= p) return false;
  const rhs = (((X * X - 3n) % p) * X + b) % p;
  return (Y * Y) % p === (rhs + p) % p;
}
