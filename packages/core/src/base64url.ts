/**
 * Unpadded base64url (RFC 4648 §5), as JWK carries key material (RFC 7518
 * §2). Core needs it to move keys between JWK and SPKI without a platform
 * API; the decoder is strict so one key has one encoding.
 */
import { MalformedError } from "./errors.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const VALUES: ReadonlyMap<string, number> = new Map([...ALPHABET].map((c, i) => [c, i]));

/**
 * Encode bytes as unpadded base64url.
 *
 * @example
 * ```ts
 * base64urlEncode(new Uint8Array([0xfb, 0xff])); // "-_8"
 * ```
 */
export function base64urlEncode(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!;
  }
  return out;
}

/**
 * Decode unpadded base64url. Throws `MalformedError("bad-value", what)` for
 * padding, characters outside the alphabet, an impossible length, or unused
 * trailing bits that are not zero (a non-canonical encoding).
 *
 * @example
 * ```ts
 * base64urlDecode("-_8", "jwk.x"); // Uint8Array [0xfb, 0xff]
 * ```
 */
export function base64urlDecode(text: string, what: string): Uint8Array {
  if (text.length % 4 === 1) throw new MalformedError("bad-length", what, "not base64url (length)");
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const c of text) {
    const v = VALUES.get(c);
    if (v === undefined) throw new MalformedError("bad-value", what, "not base64url (character)");
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) throw new MalformedError("bad-value", what, "not canonical base64url");
  return out;
}
