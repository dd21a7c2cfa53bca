import { MalformedError } from "./errors.js";

/** Concatenate byte arrays into one new array (never a view of a shared or resizable buffer). */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Constant-time equality for equal-length inputs (the length itself is not
 * secret). Use it for every comparison of a secret or an attested value.
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** UTF-8 encode. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/**
 * A strict cursor over a byte array. Every read checks bounds and throws a
 * `MalformedError` naming the field; slices are copies so decoded structures
 * never alias the caller's buffer.
 */
export class ByteReader {
  private offset = 0;
  private readonly view: DataView;

  /** @param what the structure being read, used in error messages. */
  constructor(
    private readonly data: Uint8Array,
    readonly what: string,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.data.length - this.offset;
  }

  private need(n: number, field: string): void {
    if (n > this.remaining) {
      throw new MalformedError("truncated", `${this.what}.${field}`, `needs ${n} bytes, ${this.remaining} left`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.data[this.offset++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.offset, false);
    this.offset += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.offset, false);
    this.offset += 4;
    return v;
  }

  u64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.offset, false);
    this.offset += 8;
    return v;
  }

  u16le(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }

  u32le(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }

  u64le(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return v;
  }

  /** A copy of the next `n` bytes. */
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    // Uint8Array.prototype.slice copies even when `data` is a Node Buffer, whose
    // own slice() would alias the caller's memory.
    const out = Uint8Array.prototype.slice.call(this.data, this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** The next `n` bytes without copying; only for hashing or immediate re-parsing. */
  borrow(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /**
   * A TPM2B: a big-endian u16 size, then that many bytes (TPM 2.0 Part 2 §10.4).
   * `max` bounds the size, as the TPM's own unmarshalling does.
   */
  tpm2b(field: string, max = 0xffff): Uint8Array {
    const size = this.u16(`${field}.size`);
    if (size > max) throw new MalformedError("too-large", `${this.what}.${field}`, `size ${size} exceeds ${max}`);
    return this.bytes(size, field);
  }

  /** A reader over the next `n` bytes, for a nested sized structure. */
  sub(n: number, field: string): ByteReader {
    return new ByteReader(this.borrow(n, field), `${this.what}.${field}`);
  }

  /** Strict decoders end here: any byte left over is an error. */
  end(): void {
    if (this.remaining !== 0) {
      throw new MalformedError("trailing-data", this.what, `${this.remaining} bytes after the end`);
    }
  }
}

/** A growable big-endian writer for TPM wire structures. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private length = 0;

  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.grow(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
    return this;
  }

  u16(v: number): this {
    this.grow(2);
    this.view.setUint16(this.length, v, false);
    this.length += 2;
    return this;
  }

  u32(v: number): this {
    this.grow(4);
    this.view.setUint32(this.length, v >>> 0, false);
    this.length += 4;
    return this;
  }

  u64(v: bigint): this {
    this.grow(8);
    this.view.setBigUint64(this.length, v, false);
    this.length += 8;
    return this;
  }

  u32le(v: number): this {
    this.grow(4);
    this.view.setUint32(this.length, v >>> 0, true);
    this.length += 4;
    return this;
  }

  u16le(v: number): this {
    this.grow(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  /** A TPM2B: u16 size then the bytes. */
  tpm2b(b: Uint8Array): this {
    if (b.length > 0xffff) throw new RangeError("TPM2B larger than 65535 bytes");
    return this.u16(b.length).bytes(b);
  }

  /** Overwrite a u32 at `offset` (e.g. a command's size once it is known). */
  patchU32(offset: number, v: number): this {
    this.view.setUint32(offset, v >>> 0, false);
    return this;
  }

  get size(): number {
    return this.length;
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
