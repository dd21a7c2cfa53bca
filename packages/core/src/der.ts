/**
 * The one strict reader of ASN.1 DER (ITU-T X.690 §10). It accepts only definite,
 * minimally encoded lengths (§10.1) and single-byte tags; anything else is a
 * `MalformedError` naming the field. Slices it returns are copies.
 *
 * Every DER decoder in the project (X.509, CRLs, SPKI, the SEV-SNP and PCK
 * extensions) reads through it; leniency real certificates need (e.g. EK
 * certificate quirks) belongs in those decoders, not here.
 */
import { MalformedError } from "./errors.js";

/** Universal tags used by X.509 (X.680 §8.4). */
export const DER_TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** A context-specific tag number `n`, constructed (X.690 §8.1.2). */
export function contextConstructed(n: number): number {
  return 0xa0 | n;
}

/** A context-specific tag number `n`, primitive. */
export function contextPrimitive(n: number): number {
  return 0x80 | n;
}

/** One decoded TLV: its tag, its content octets and the whole encoding. */
export interface DerElement {
  readonly tag: number;
  /** The content octets (a copy). */
  readonly content: Uint8Array;
  /** Tag, length and content exactly as encoded (a copy), e.g. for signing input or name comparison. */
  readonly encoded: Uint8Array;
}

/** The deepest nesting a certificate legitimately needs is far below this. */
const MAX_DEPTH = 32;

/** A cursor over a run of DER elements (the content of a SEQUENCE, or a whole document). */
export class DerReader {
  private offset = 0;

  /**
   * @param data the bytes to read.
   * @param what the structure being read, used in error messages.
   * @param depth nesting depth, bounded so hostile input cannot recurse without limit.
   */
  constructor(
    private readonly data: Uint8Array,
    readonly what: string,
    private readonly depth = 0,
  ) {
    if (depth > MAX_DEPTH) throw new MalformedError("too-deep", what, `nesting deeper than ${MAX_DEPTH}`);
  }

  /** True when every byte has been read. */
  get done(): boolean {
    return this.offset >= this.data.length;
  }

  /** The tag of the next element, or undefined at the end. */
  peekTag(): number | undefined {
    return this.done ? undefined : this.data[this.offset];
  }

  /** Read the next element, whatever its tag. */
  any(field: string): DerElement {
    const start = this.offset;
    const name = `${this.what}.${field}`;
    if (this.data.length - start < 2) throw new MalformedError("truncated", name, "no room for a tag and length");
    const tag = this.data[start]!;
    // High-tag-number form (X.690 §8.1.2.4) never occurs in X.509.
    if ((tag & 0x1f) === 0x1f) throw new MalformedError("unsupported", name, "multi-byte tag");
    let pos = start + 1;
    const first = this.data[pos++]!;
    let length: number;
    if (first < 0x80) {
      length = first;
    } else {
      const count = first & 0x7f;
      // 0x80 is the indefinite form, which DER forbids (X.690 §10.1).
      if (count === 0) throw new MalformedError("bad-length", name, "indefinite length");
      if (count > 4) throw new MalformedError("too-large", name, "length of more than 4 bytes");
      if (this.data.length - pos < count) throw new MalformedError("truncated", name, "length bytes");
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + this.data[pos++]!;
      // DER uses the fewest length bytes possible (X.690 §10.1).
      if (length < 0x80 || (count > 1 && this.data[pos - count] === 0)) {
        throw new MalformedError("bad-length", name, "length not minimally encoded");
      }
    }
    if (this.data.length - pos < length) {
      throw new MalformedError("truncated", name, `needs ${length} bytes, ${this.data.length - pos} left`);
    }
    this.offset = pos + length;
    return {
      tag,
      content: this.data.slice(pos, pos + length),
      encoded: this.data.slice(start, pos + length),
    };
  }

  /** Read the next element and require its tag. */
  expect(tag: number, field: string): DerElement {
    const next = this.peekTag();
    if (next !== tag) {
      throw new MalformedError(
        next === undefined ? "truncated" : "bad-value",
        `${this.what}.${field}`,
        `expected tag 0x${tag.toString(16)}`,
      );
    }
    return this.any(field);
  }

  /** Read an element with `tag` only if it is next (for OPTIONAL and DEFAULT fields). */
  optional(tag: number, field: string): DerElement | undefined {
    return this.peekTag() === tag ? this.any(field) : undefined;
  }

  /** Read a SEQUENCE and return a reader over its content. */
  sequence(field: string): DerReader {
    return this.nested(DER_TAG.SEQUENCE, field);
  }

  /** Read a constructed element with `tag` and return a reader over its content. */
  nested(tag: number, field: string): DerReader {
    const el = this.expect(tag, field);
    return new DerReader(el.content, `${this.what}.${field}`, this.depth + 1);
  }

  /** A reader over the content of an element already read. */
  child(el: DerElement, field: string): DerReader {
    return new DerReader(el.content, `${this.what}.${field}`, this.depth + 1);
  }

  /** Everything must have been read (no trailing elements). */
  end(): void {
    if (!this.done) {
      throw new MalformedError("trailing-data", this.what, `${this.data.length - this.offset} bytes after the end`);
    }
  }
}

/** Decode OBJECT IDENTIFIER content octets to dotted form (X.690 §8.19). */
export function decodeOid(content: Uint8Array, what: string): string {
  if (content.length === 0) throw new MalformedError("bad-length", what, "empty OID");
  if (content.length > 64) throw new MalformedError("too-large", what, "OID longer than 64 bytes");
  const arcs: bigint[] = [];
  let value = 0n;
  let started = false;
  for (const b of content) {
    // A subidentifier never starts with 0x80 (X.690 §8.19.2: fewest octets).
    if (!started && b === 0x80) throw new MalformedError("bad-value", what, "non-minimal OID arc");
    started = true;
    value = (value << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
      started = false;
    }
  }
  if (started) throw new MalformedError("truncated", what, "OID arc not terminated");
  const first = arcs[0]!;
  // The first subidentifier packs the first two arcs (X.690 §8.19.4).
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].map(String).join(".");
}

/** Read an OBJECT IDENTIFIER in dotted form. */
export function readOid(r: DerReader, field: string): string {
  return decodeOid(r.expect(DER_TAG.OID, field).content, `${r.what}.${field}`);
}

/**
 * Read a BOOLEAN. DER requires 0x00 or 0xFF (X.690 §11.1); some TPM
 * certificates encode TRUE as 0x01, which is unambiguous, so any non-zero
 * single octet is read as TRUE.
 */
export function readBoolean(el: DerElement, what: string): boolean {
  if (el.content.length !== 1) throw new MalformedError("bad-length", what, "BOOLEAN must be one byte");
  return el.content[0] !== 0;
}

/**
 * Read a small non-negative INTEGER (at most 2^31 - 1), minimally encoded.
 * Used for version numbers and path length constraints.
 */
export function readSmallInteger(el: DerElement, what: string): number {
  const c = el.content;
  if (el.tag !== DER_TAG.INTEGER) throw new MalformedError("bad-value", what, "expected INTEGER");
  if (c.length === 0) throw new MalformedError("bad-length", what, "empty INTEGER");
  if (c.length > 1 && ((c[0] === 0 && (c[1]! & 0x80) === 0) || (c[0] === 0xff && (c[1]! & 0x80) !== 0))) {
    throw new MalformedError("bad-value", what, "INTEGER not minimally encoded");
  }
  if ((c[0]! & 0x80) !== 0) throw new MalformedError("bad-value", what, "negative INTEGER");
  if (c.length > 4 || (c.length === 4 && (c[0]! & 0x80) !== 0)) {
    throw new MalformedError("too-large", what, "INTEGER too large");
  }
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return v;
}

/**
 * Read a BIT STRING with no unused bits (X.690 §8.6), as signatures and
 * public keys are. Returns the bits as bytes.
 */
export function readOctetAlignedBitString(el: DerElement, what: string): Uint8Array {
  if (el.tag !== DER_TAG.BIT_STRING) throw new MalformedError("bad-value", what, "expected BIT STRING");
  if (el.content.length === 0) throw new MalformedError("bad-length", what, "empty BIT STRING");
  if (el.content[0] !== 0) throw new MalformedError("bad-value", what, "unused bits in an octet-aligned BIT STRING");
  return el.content.slice(1);
}

/**
 * Read a named-bit BIT STRING (like KeyUsage) as a bit mask where bit 0 is the
 * first (most significant) bit of the first octet (X.690 §8.6.2).
 */
export function readNamedBits(el: DerElement, what: string): number {
  if (el.tag !== DER_TAG.BIT_STRING) throw new MalformedError("bad-value", what, "expected BIT STRING");
  const c = el.content;
  if (c.length === 0) throw new MalformedError("bad-length", what, "empty BIT STRING");
  const unused = c[0]!;
  if (unused > 7 || (c.length === 1 && unused !== 0))
    throw new MalformedError("bad-value", what, "bad unused-bit count");
  if (c.length > 5) throw new MalformedError("too-large", what, "more named bits than supported");
  if (c.length > 1 && (c[c.length - 1]! & ((1 << unused) - 1)) !== 0) {
    throw new MalformedError("reserved-nonzero", what, "unused bits set");
  }
  let mask = 0;
  for (let i = 1; i < c.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      if ((c[i]! & (0x80 >> bit)) !== 0) mask |= 1 << ((i - 1) * 8 + bit);
    }
  }
  return mask >>> 0;
}

function digits(text: string, from: number, count: number): number {
  let v = 0;
  for (let i = from; i < from + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Read a UTCTime or GeneralizedTime as RFC 5280 §4.1.2.5 profiles them:
 * `YYMMDDHHMMSSZ` (years 50–99 are 19xx) or `YYYYMMDDHHMMSSZ`, always UTC with
 * seconds and no fraction.
 */
export function readTime(el: DerElement, what: string): Date {
  // Both forms are short; bound the length before building a string from it.
  if (el.content.length !== 13 && el.content.length !== 15) {
    throw new MalformedError("bad-length", what, "time must be YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ");
  }
  const text = String.fromCharCode(...el.content);
  let year: number;
  let rest: string;
  if (el.tag === DER_TAG.UTC_TIME) {
    if (text.length !== 13) throw new MalformedError("bad-length", what, "UTCTime must be YYMMDDHHMMSSZ");
    const yy = digits(text, 0, 2);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = text.slice(2);
  } else if (el.tag === DER_TAG.GENERALIZED_TIME) {
    if (text.length !== 15) throw new MalformedError("bad-length", what, "GeneralizedTime must be YYYYMMDDHHMMSSZ");
    year = digits(text, 0, 4);
    rest = text.slice(4);
  } else {
    throw new MalformedError("bad-value", what, "expected UTCTime or GeneralizedTime");
  }
  if (rest[10] !== "Z") throw new MalformedError("bad-value", what, "time must be UTC (Z)");
  const month = digits(rest, 0, 2);
  const day = digits(rest, 2, 2);
  const hour = digits(rest, 4, 2);
  const minute = digits(rest, 6, 2);
  const second = digits(rest, 8, 2);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  // Reject what Date.UTC would silently normalise (month 13, day 31 of February, ...).
  if (
    Number.isNaN(ms) ||
    d.getUTCFullYear() !== year ||
    d.getUTCMonth() !== month - 1 ||
    d.getUTCDate() !== day ||
    d.getUTCHours() !== hour ||
    d.getUTCMinutes() !== minute ||
    d.getUTCSeconds() !== second
  ) {
    throw new MalformedError("bad-value", what, "not a valid date and time");
  }
  return d;
}
