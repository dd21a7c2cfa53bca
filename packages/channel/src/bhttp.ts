/**
 * Binary HTTP requests (RFC 9292), known-length form only: what a sealed
 * request (docs/CHANNEL.md, version 2) carries inside its HPKE ciphertext, as
 * Oblivious HTTP does (RFC 9458 §4.1). Method, target, header fields and
 * content travel together, so an intermediary sees none of them.
 *
 *     Known-Length Request {                     RFC 9292 §3.1
 *       Framing Indicator (i) = 0,               §3.3
 *       Request Control Data (..),               §3.4: method, scheme, authority, path,
 *                                                      each Length (i) ‖ bytes
 *       Known-Length Field Section (..),         §3.6: Length (i) ‖ Field Line …
 *       Known-Length Content (..),               Length (i) ‖ bytes
 *       Known-Length Field Section (..),         the trailers
 *       Padding (..),                            §3.8: zero bytes
 *     }
 *     Field Line { Name Length (i) = 1.., Name (..), Value Length (i), Value (..) }
 *
 * `(i)` is a QUIC variable-length integer (RFC 9000 §16): the two high bits
 * of the first byte give its size (1, 2, 4 or 8 bytes), the rest its value,
 * big-endian. Decoding is strict and bounded: only framing indicator 0 (the
 * indeterminate-length form, §3.2, is refused: a sealed request is always
 * whole), every length checked against what is left and against the limits
 * before anything is copied, method a token, scheme "http" or "https", path
 * an origin-form target (RFC 9110 §7.1: HTTP/2 §8.3.1 rules, which §3.4 takes),
 * field names lower-case tokens and values RFC 9110 §5.5 field values, no
 * pseudo-fields (§3.6: they are control data), padding all zero (§3.8, §4).
 * A message may be truncated after its header section or its content
 * (§3.8): the missing sections are empty.
 */
import { MalformedError } from "@veritee/core";
import { MAX_REQUEST_FIELD } from "./wire.js";

/** A request as Binary HTTP represents it. */
export interface BinaryRequest {
  /** An RFC 9110 token, e.g. "POST". */
  readonly method: string;
  /** "https" or "http" (default "https" when encoding). */
  readonly scheme?: string;
  /** The target's authority (host[:port]); "" when absent (RFC 9292 §3.4). */
  readonly authority?: string;
  /** The origin-form target: an absolute path and query, e.g. "/v1/chat/completions". */
  readonly path: string;
  /** Header fields in order: lower-case names; a name may repeat. */
  readonly headers?: readonly (readonly [string, string])[];
  /** The content; absent or empty for none. */
  readonly body?: Uint8Array;
  /** Trailer fields, as `headers`. */
  readonly trailers?: readonly (readonly [string, string])[];
}

/** A decoded request: every part present. */
export interface DecodedBinaryRequest {
  readonly method: string;
  readonly scheme: string;
  readonly authority: string;
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array<ArrayBuffer>;
  readonly trailers: readonly (readonly [string, string])[];
}

/** Bounds of {@link decodeBinaryRequest}. */
export interface BinaryRequestLimits {
  /** Largest content (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Largest field section, header or trailer, in encoded bytes (default 64 KiB). */
  readonly maxFieldSectionBytes?: number;
  /** Most field lines in one section (default 128). */
  readonly maxFields?: number;
}

/** Longest method, scheme, authority or path (bytes). */
export const MAX_CONTROL_FIELD = MAX_REQUEST_FIELD;
/** Longest field value (bytes). */
export const MAX_FIELD_VALUE = 16 * 1024;
const DEFAULT_LIMITS: Required<BinaryRequestLimits> = Object.freeze({
  maxBodyBytes: 1 << 20,
  maxFieldSectionBytes: 64 * 1024,
  maxFields: 128,
});

/** RFC 9292 §3.3: the framing indicator of a known-length request. */
const KNOWN_LENGTH_REQUEST = 0;
/** The largest value a QUIC varint holds (RFC 9000 §16): 2^62 − 1. */
const MAX_VARINT = 2 ** 62 - 1;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** RFC 9110 §5.5 field-value without obs-text: VCHAR, SP, HTAB inside, no leading or trailing whitespace. */
const FIELD_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?$/;
/** RFC 9110 §7.1 origin-form: absolute-path [ "?" query ], visible ASCII. */
const ORIGIN_FORM = /^\/[\x21-\x7e]*$/;
/** RFC 3986 §3.2 authority, as far as visible ASCII without "/", "?", "#", "@" (no userinfo). */
const AUTHORITY = /^[!$&'()*+,;=:[\]a-zA-Z0-9._~%-]*$/;

/** Why an encoded part is refused: one place for the encoder's and the decoder's rules. */
function controlProblem(part: "method" | "scheme" | "authority" | "path", value: string): string | undefined {
  if (value.length > MAX_CONTROL_FIELD) return `longer than ${MAX_CONTROL_FIELD} bytes`;
  switch (part) {
    case "method":
      return TOKEN.test(value) ? undefined : "not an HTTP token";
    case "scheme":
      return value === "https" || value === "http" ? undefined : 'not "https" or "http"';
    case "authority":
      return AUTHORITY.test(value) ? undefined : "not an authority";
    case "path":
      return ORIGIN_FORM.test(value) ? undefined : "not an absolute path of visible ASCII";
  }
}

function fieldProblem(name: string, value: string): string | undefined {
  if (!FIELD_NAME.test(name)) return "a field name is not a lower-case token";
  if (value.length > MAX_FIELD_VALUE) return `a field value is longer than ${MAX_FIELD_VALUE} bytes`;
  if (!FIELD_VALUE.test(value)) return "a field value is not visible ASCII";
  return undefined;
}

/** Bytes a QUIC varint of `value` takes (RFC 9000 §16, the shortest form). */
function varintSize(value: number): number {
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x4000_0000) return 4;
  return 8;
}

class Writer {
  readonly out: Uint8Array<ArrayBuffer>;
  readonly #view: DataView;
  #at = 0;

  constructor(size: number) {
    this.out = new Uint8Array(size);
    this.#view = new DataView(this.out.buffer);
  }

  varint(value: number): void {
    const size = varintSize(value);
    if (size === 1) this.#view.setUint8(this.#at, value);
    else if (size === 2) this.#view.setUint16(this.#at, value | 0x4000);
    else if (size === 4) this.#view.setUint32(this.#at, (value | 0x8000_0000) >>> 0);
    else {
      this.#view.setUint32(this.#at, (Math.floor(value / 2 ** 32) | 0xc000_0000) >>> 0);
      this.#view.setUint32(this.#at + 4, value >>> 0);
    }
    this.#at += size;
  }

  bytes(bytes: Uint8Array): void {
    this.out.set(bytes, this.#at);
    this.#at += bytes.length;
  }
}

const encoder = new TextEncoder();

/** Sizes of a field section: its field lines' encodings and the total. */
function encodeFields(fields: readonly (readonly [string, string])[]): { lines: Uint8Array[]; size: number } {
  const lines: Uint8Array[] = [];
  let size = 0;
  for (const [name, value] of fields) {
    const problem = fieldProblem(name, value);
    if (problem !== undefined) throw new RangeError(`BinaryRequest: ${problem}`);
    const n = encoder.encode(name);
    const v = encoder.encode(value);
    lines.push(n, v);
    size += varintSize(n.length) + n.length + varintSize(v.length) + v.length;
  }
  return { lines, size };
}

/**
 * Encode a request as a known-length Binary HTTP message (RFC 9292 §3.1),
 * without padding or truncation.
 *
 * @throws RangeError for a method, scheme, authority, path or field outside
 *   the rules in the module comment (the same rules the decoder applies).
 * @example
 * encodeBinaryRequest({ method: "POST", path: "/v1/chat/completions", headers: [["content-type", "application/json"]], body });
 */
export function encodeBinaryRequest(request: BinaryRequest): Uint8Array<ArrayBuffer> {
  const control: Record<"method" | "scheme" | "authority" | "path", string> = {
    method: request.method,
    scheme: request.scheme ?? "https",
    authority: request.authority ?? "",
    path: request.path,
  };
  const controlBytes: Uint8Array[] = [];
  let size = varintSize(KNOWN_LENGTH_REQUEST);
  for (const part of ["method", "scheme", "authority", "path"] as const) {
    const problem = controlProblem(part, control[part]);
    if (problem !== undefined) throw new RangeError(`BinaryRequest.${part}: ${problem}`);
    const bytes = encoder.encode(control[part]);
    controlBytes.push(bytes);
    size += varintSize(bytes.length) + bytes.length;
  }
  const headers = encodeFields(request.headers ?? []);
  const trailers = encodeFields(request.trailers ?? []);
  const body = request.body ?? new Uint8Array(0);
  size += varintSize(headers.size) + headers.size;
  size += varintSize(body.length) + body.length;
  size += varintSize(trailers.size) + trailers.size;
  if (size > MAX_VARINT) throw new RangeError("BinaryRequest: too large");
  const w = new Writer(size);
  w.varint(KNOWN_LENGTH_REQUEST);
  for (const bytes of controlBytes) {
    w.varint(bytes.length);
    w.bytes(bytes);
  }
  for (const section of [headers, undefined, trailers]) {
    if (section === undefined) {
      w.varint(body.length);
      w.bytes(body);
      continue;
    }
    w.varint(section.size);
    for (const line of section.lines) {
      w.varint(line.length);
      w.bytes(line);
    }
  }
  return w.out;
}

const ascii = new TextDecoder("ascii");

class Reader {
  readonly #data: Uint8Array;
  readonly #view: DataView;
  /** Copy the content out (the default), or hand out a view when the caller owns `data` alone. */
  readonly #copy: boolean;
  at: number;
  readonly end: number;

  constructor(data: Uint8Array, at: number, end: number, copy = true) {
    this.#data = data;
    this.#copy = copy;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.at = at;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.at;
  }

  /** A QUIC varint (RFC 9000 §16); values past 2^53 cannot be a length here and are refused. */
  varint(field: string): number {
    if (this.remaining < 1) throw new MalformedError("truncated", `BinaryRequest.${field}`, "missing");
    const first = this.#data[this.at]!;
    const size = 1 << (first >> 6);
    if (this.remaining < size)
      throw new MalformedError("truncated", `BinaryRequest.${field}`, `a ${size}-byte integer is cut`);
    let value: number;
    if (size === 1) value = first;
    else if (size === 2) value = this.#view.getUint16(this.at) & 0x3fff;
    else if (size === 4) value = this.#view.getUint32(this.at) & 0x3fff_ffff;
    else {
      const high = this.#view.getUint32(this.at) & 0x3fff_ffff;
      if (high >= 0x20_0000) throw new MalformedError("too-large", `BinaryRequest.${field}`, "beyond 2^53");
      value = high * 2 ** 32 + this.#view.getUint32(this.at + 4);
    }
    this.at += size;
    return value;
  }

  /** `length` bytes, after the bound check: a copy, or a view for an owned buffer. */
  bytes(length: number, field: string): Uint8Array<ArrayBuffer> {
    if (length > this.remaining)
      throw new MalformedError("truncated", `BinaryRequest.${field}`, `needs ${length} bytes, ${this.remaining} left`);
    const slice = this.#copy
      ? this.#data.slice(this.at, this.at + length)
      : this.#data.subarray(this.at, this.at + length);
    const out = slice as Uint8Array<ArrayBuffer>;
    this.at += length;
    return out;
  }

  text(length: number, field: string): string {
    if (length > this.remaining)
      throw new MalformedError("truncated", `BinaryRequest.${field}`, `needs ${length} bytes, ${this.remaining} left`);
    const out = ascii.decode(this.#data.subarray(this.at, this.at + length));
    this.at += length;
    return out;
  }

  /** A reader over the next `length` bytes only (a known-length section). */
  section(length: number, field: string): Reader {
    if (length > this.remaining)
      throw new MalformedError("truncated", `BinaryRequest.${field}`, `needs ${length} bytes, ${this.remaining} left`);
    const inner = new Reader(this.#data, this.at, this.at + length, this.#copy);
    this.at += length;
    return inner;
  }

  /** §3.8: whatever follows the message is padding, and padding is zero. */
  padding(): void {
    for (let i = this.at; i < this.end; i++) {
      if (this.#data[i] !== 0) throw new MalformedError("trailing-data", "BinaryRequest.padding", "a non-zero byte");
    }
    this.at = this.end;
  }
}

function readControl(r: Reader, part: "method" | "scheme" | "authority" | "path"): string {
  const length = r.varint(`${part}.length`);
  if (length > MAX_CONTROL_FIELD)
    throw new MalformedError("too-large", `BinaryRequest.${part}`, `longer than ${MAX_CONTROL_FIELD} bytes`);
  const value = r.text(length, part);
  const problem = controlProblem(part, value);
  if (problem !== undefined) throw new MalformedError("bad-value", `BinaryRequest.${part}`, problem);
  return value;
}

function readFields(r: Reader, what: "headers" | "trailers", limits: Required<BinaryRequestLimits>) {
  const length = r.varint(`${what}.length`);
  if (length > limits.maxFieldSectionBytes) {
    throw new MalformedError("too-large", `BinaryRequest.${what}`, `longer than ${limits.maxFieldSectionBytes} bytes`);
  }
  const s = r.section(length, what);
  const fields: (readonly [string, string])[] = [];
  while (s.remaining > 0) {
    if (fields.length === limits.maxFields)
      throw new MalformedError("too-large", `BinaryRequest.${what}`, `more than ${limits.maxFields} fields`);
    const nameLength = s.varint(`${what}.name.length`);
    if (nameLength === 0) throw new MalformedError("bad-value", `BinaryRequest.${what}.name`, "empty (§3.6: 1..)");
    const name = s.text(nameLength, `${what}.name`);
    const valueLength = s.varint(`${what}.value.length`);
    if (valueLength > MAX_FIELD_VALUE)
      throw new MalformedError("too-large", `BinaryRequest.${what}.value`, `longer than ${MAX_FIELD_VALUE} bytes`);
    const value = s.text(valueLength, `${what}.value`);
    // Pseudo-fields (":path", …) are control data, never field lines (§3.6); the name rule refuses ":".
    const problem = fieldProblem(name, value);
    if (problem !== undefined) throw new MalformedError("bad-value", `BinaryRequest.${what}`, problem);
    fields.push(Object.freeze([name, value] as const));
  }
  return Object.freeze(fields);
}

const NO_FIELDS: readonly (readonly [string, string])[] = Object.freeze([]);

/**
 * Decode a known-length Binary HTTP request strictly (module comment).
 *
 * @throws MalformedError naming the part: `unsupported` for another framing
 *   indicator (a response, or the indeterminate-length form), `truncated`,
 *   `too-large` past the limits, `bad-value` for a part outside its rules,
 *   `trailing-data` for non-zero padding.
 * @example
 * const { method, path, headers, body } = decodeBinaryRequest(plaintext, { maxBodyBytes: 1 << 20 });
 */
export function decodeBinaryRequest(bytes: Uint8Array, limits: BinaryRequestLimits = {}): DecodedBinaryRequest {
  return decode(bytes, limits, true);
}

/**
 * {@link decodeBinaryRequest} for a buffer nobody else holds (a plaintext
 * HPKE just produced): the same checks, but the content is a view into
 * `bytes` instead of a copy — a 1 MiB request body is not copied twice
 * (module-internal: request.ts).
 */
export function decodeOwnedBinaryRequest(bytes: Uint8Array, limits: BinaryRequestLimits = {}): DecodedBinaryRequest {
  return decode(bytes, limits, false);
}

function decode(bytes: Uint8Array, limits: BinaryRequestLimits, copy: boolean): DecodedBinaryRequest {
  const bounds: Required<BinaryRequestLimits> = {
    maxBodyBytes: limits.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes,
    maxFieldSectionBytes: limits.maxFieldSectionBytes ?? DEFAULT_LIMITS.maxFieldSectionBytes,
    maxFields: limits.maxFields ?? DEFAULT_LIMITS.maxFields,
  };
  const r = new Reader(bytes, 0, bytes.length, copy);
  const indicator = r.varint("framingIndicator");
  if (indicator !== KNOWN_LENGTH_REQUEST) {
    throw new MalformedError(
      "unsupported",
      "BinaryRequest.framingIndicator",
      `${indicator}, not 0 (known-length request)`,
    );
  }
  const method = readControl(r, "method");
  const scheme = readControl(r, "scheme");
  const authority = readControl(r, "authority");
  const path = readControl(r, "path");
  // §3.8: a message may end after any section once the rest would be empty.
  const headers = readFields(r, "headers", bounds);
  let body: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  let trailers = NO_FIELDS;
  if (r.remaining > 0) {
    const length = r.varint("content.length");
    if (length > bounds.maxBodyBytes)
      throw new MalformedError("too-large", "BinaryRequest.content", `longer than ${bounds.maxBodyBytes} bytes`);
    body = r.bytes(length, "content");
  }
  if (r.remaining > 0) trailers = readFields(r, "trailers", bounds);
  r.padding();
  return Object.freeze({ method, scheme, authority, path, headers, body, trailers });
}
