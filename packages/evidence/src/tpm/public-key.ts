/**
 * The public key inside a TPMT_PUBLIC, as a JWK, an imported verification key
 * handle, or DER SubjectPublicKeyInfo, through core's crypto backend.
 */
import { exportSpki, importPublicJwk, MalformedError, type PublicKeyHandle } from "@veritee/core";
import { curveByteSize, type EccCurve, type TpmtPublic } from "./public.js";

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Unpadded base64url (RFC 4648 §5), as JWK requires (RFC 7518 §2). */
function base64url(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]!;
  }
  return out;
}

/** Left-pad a big-endian integer to `size` bytes (TPMs may drop leading zero bytes). */
function padTo(value: Uint8Array, size: number): Uint8Array {
  if (value.length === size) return value;
  const out = new Uint8Array(size);
  out.set(value, size - value.length);
  return out;
}

/** The minimal big-endian bytes of an unsigned 32-bit integer. */
function u32Minimal(v: number): Uint8Array {
  const bytes = [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  let start = 0;
  while (start < 3 && bytes[start] === 0) start++;
  return Uint8Array.from(bytes.slice(start));
}

const JWK_CURVES: Readonly<Record<EccCurve, string>> = { p256: "P-256", p384: "P-384", p521: "P-521" };

/**
 * The JWK (RFC 7517/7518) of the key in `pub`: RSA `n`/`e` (exponent 0 means
 * 65537, Part 2 §12.2.3.5), or EC `crv`/`x`/`y` with coordinates padded to the
 * curve's size. Throws `MalformedError("bad-value")` for an RSA modulus whose
 * top bit is clear or that is even: a TPM makes moduli of exactly `keyBits`
 * bits, and such a value is no key of the size the structure claims.
 *
 * @example
 * ```ts
 * const jwk = publicKeyJwk(decodeTpm2bPublic(akPub)); // { kty: "EC", crv: "P-256", x, y }
 * ```
 */
export function publicKeyJwk(pub: TpmtPublic): JsonWebKey {
  if (pub.type === "rsa") {
    const n = pub.modulus;
    if (n.length === 0 || (n[0]! & 0x80) === 0 || (n[n.length - 1]! & 1) === 0) {
      throw new MalformedError("bad-value", "TPMT_PUBLIC.unique.rsa", "not an RSA modulus of keyBits bits");
    }
    return { kty: "RSA", n: base64url(n), e: base64url(u32Minimal(pub.exponent === 0 ? 65537 : pub.exponent)) };
  }
  const size = curveByteSize(pub.curve);
  return {
    kty: "EC",
    crv: JWK_CURVES[pub.curve],
    x: base64url(padTo(pub.x, size)),
    y: base64url(padTo(pub.y, size)),
  };
}

/**
 * Import the key in `pub` for signature verification. Throws
 * `MalformedError("bad-value")` when it is not a valid public key (for ECC, a
 * point that is not on the curve; for RSA, see {@link publicKeyJwk}).
 * Importing is the costly part of using a key: import once and reuse the
 * handle (`decodeAkPublic` does this for AKs).
 *
 * @example
 * ```ts
 * const key = publicKeyHandle(decodeTpm2bPublic(akPub));
 * ```
 */
export function publicKeyHandle(pub: TpmtPublic): PublicKeyHandle {
  const jwk = publicKeyJwk(pub);
  try {
    return importPublicJwk(jwk);
  } catch (cause) {
    const field = pub.type === "rsa" ? "unique.rsa" : "unique.ecc";
    throw new MalformedError("bad-value", `TPMT_PUBLIC.${field}`, "not a valid public key", { cause });
  }
}

/**
 * DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) of the key in `pub`, e.g. to
 * compare with the key of an AK certificate.
 *
 * @example
 * ```ts
 * const spki = publicKeySpki(decodeTpm2bPublic(akPub));
 * ```
 */
export function publicKeySpki(pub: TpmtPublic): Uint8Array {
  return exportSpki(publicKeyHandle(pub));
}
