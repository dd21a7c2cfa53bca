/**
 * The one ASN.1 DER encoder (ITU-T X.690 §10): definite minimal lengths,
 * single-byte tags, minimal INTEGERs: what SPKI encoding and the attested
 * TLS certificate need. Its inverse is der.ts's strict reader, which the
 * tests use to check what this module makes.
 */
import { concatBytes, utf8 } from "./bytes.js";

/** A TLV with definite, minimal length (X.690 §8.1.3, §10.1). */
export function derTlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else if (n < 0x100) header = [tag, 0x81, n];
  else if (n < 0x10000) header = [tag, 0x82, n >> 8, n & 0xff];
  else if (n < 0x1000000) header = [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  else throw new RangeError("DER content longer than 16 MiB");
  return concatBytes(Uint8Array.from(header), content);
}

/** SEQUENCE of the given encodings. */
export function derSequence(...items: readonly Uint8Array[]): Uint8Array {
  return derTlv(0x30, concatBytes(...items));
}

/** SET of the given encodings, in DER order (X.690 §10.3: sorted by encoding). */
export function derSet(...items: readonly Uint8Array[]): Uint8Array {
  const sorted = [...items].sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  });
  return derTlv(0x31, concatBytes(...sorted));
}

/** An OBJECT IDENTIFIER from dotted form (X.690 §8.19). */
export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => {
    if (!/^(0|[1-9][0-9]*)$/.test(a)) throw new RangeError("bad OID arc");
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new RangeError("bad OID");
  const out: number[] = [];
  for (const value of [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)]) {
    const groups: number[] = [];
    let v = value;
    do {
      groups.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < groups.length - 1; i++) groups[i]! |= 0x80;
    out.push(...groups);
  }
  return derTlv(0x06, Uint8Array.from(out));
}

/** A non-negative INTEGER from big-endian magnitude bytes, minimally encoded (X.690 §8.3.2). */
export function derUnsigned(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = magnitude.length === 0 ? Uint8Array.of(0) : magnitude.subarray(start);
  return derTlv(0x02, bytes[0]! & 0x80 ? concatBytes(Uint8Array.of(0), bytes) : bytes.slice());
}

/** A small non-negative INTEGER. */
export function derSmallInteger(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError("not a non-negative integer");
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  return derUnsigned(Uint8Array.from(bytes));
}

/** BOOLEAN (DER: TRUE is 0xff, X.690 §11.1). */
export function derBoolean(value: boolean): Uint8Array {
  return derTlv(0x01, Uint8Array.of(value ? 0xff : 0x00));
}

/** BIT STRING of whole bytes (no unused bits). */
export function derBitString(bytes: Uint8Array): Uint8Array {
  return derTlv(0x03, concatBytes(Uint8Array.of(0), bytes));
}

/** BIT STRING of named bits (bit 0 is the most significant), trailing zero bits removed (X.690 §11.2.2). */
export function derNamedBits(bits: readonly number[]): Uint8Array {
  if (bits.length === 0) return derTlv(0x03, Uint8Array.of(0));
  const last = Math.max(...bits);
  const bytes = new Uint8Array((last >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return derTlv(0x03, concatBytes(Uint8Array.of(7 - (last & 7)), bytes));
}

/** OCTET STRING. */
export function derOctetString(bytes: Uint8Array): Uint8Array {
  return derTlv(0x04, bytes);
}

/** UTF8String. */
export function derUtf8String(text: string): Uint8Array {
  return derTlv(0x0c, utf8(text));
}

/** A context-specific constructed tag [n] around `inner` (EXPLICIT tagging). */
export function derExplicit(n: number, inner: Uint8Array): Uint8Array {
  return derTlv(0xa0 | n, inner);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** A certificate time: UTCTime for 1950–2049, GeneralizedTime otherwise, in whole seconds, "Z" (RFC 5280 §4.1.2.5). */
export function derTime(date: Date): Uint8Array {
  const y = date.getUTCFullYear();
  const rest =
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2) +
    "Z";
  if (y >= 1950 && y < 2050) return derTlv(0x17, utf8(pad(y % 100, 2) + rest));
  if (y < 0 || y > 9999) throw new RangeError("year outside 0..9999");
  return derTlv(0x18, utf8(pad(y, 4) + rest));
}
