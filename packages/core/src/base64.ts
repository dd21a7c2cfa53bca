/**
 * Standard base64 with padding (RFC 4648 §4), the encoding of binary fields
 * in Veritee's JSON documents. Decoding is strict (§3.5 "canonical
 * encoding"): only the standard alphabet, a length that is a multiple of 4,
 * padding only at the end and only as needed, and zero pad bits, so every
 * byte string has exactly one accepted spelling.
 */
import { MalformedError } from "./errors.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const INDEX: Int16Array = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/** Padded standard base64 of `bytes`. */
export function base64Encode(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const rest = bytes.length - i;
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!;
    out += rest > 1 ? ALPHABET[(n >> 6) & 63]! : "=";
    out += rest > 2 ? ALPHABET[n & 63]! : "=";
  }
  return out;
}

/**
 * Strictly decode padded standard base64 of at most `maxBytes` decoded bytes.
 *
 * @throws MalformedError naming `what`: `bad-value` for anything but a string
 *   in canonical base64, `too-large` beyond `maxBytes`.
 */
export function base64Decode(text: unknown, what: string, maxBytes: number): Uint8Array {
  if (typeof text !== "string") throw new MalformedError("bad-value", what, "expected a base64 string");
  if (text.length % 4 !== 0) throw new MalformedError("bad-value", what, "base64 length is not a multiple of 4");
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const size = (text.length / 4) * 3 - padding;
  if (size > maxBytes) throw new MalformedError("too-large", what, `${size} bytes exceeds ${maxBytes}`);
  const out = new Uint8Array(size);
  const dataChars = text.length - padding;
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < dataChars; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? INDEX[c]! : -1;
    if (v < 0) throw new MalformedError("bad-value", what, "not base64");
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // The pad bits of the last character must be zero, or two spellings would decode alike.
  if ((acc & ((1 << bits) - 1)) !== 0) throw new MalformedError("bad-value", what, "non-zero pad bits");
  return out;
}
