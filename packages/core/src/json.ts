/**
 * JSON for Veritee's own evidence documents (the launch log, the attestation
 * document, Azure's claims): RFC 8785 canonical serialization (JCS) and a strict parser.
 *
 * Canonical form matters twice: event digests are SHA-256 over the canonical
 * JSON of the event data, so producer and verifier must serialize the same
 * value to the same bytes; and a verifier given bytes accepts only their
 * canonical form, which rules out duplicate member names, whose handling
 * differs between JSON parsers (RFC 8259 §4 leaves it open), and so any
 * parser differential between a Veritee verifier and another one.
 */
import { MalformedError } from "./errors.js";

/** A JSON value as `JSON.parse` returns it. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;

/** A JSON object. */
export interface JsonObject {
  readonly [member: string]: JsonValue;
}

/** Deepest nesting {@link canonicalJson} and {@link checkJsonValue} accept. */
export const MAX_JSON_DEPTH = 32;

// With the `u` flag a well-formed surrogate pair is one code point outside
// this range, so only lone surrogates match: I-JSON (RFC 7493 §2.1), which
// RFC 8785 §3.1 requires, forbids them.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * The RFC 8785 (JCS) serialization of a JSON value: object members sorted by
 * the UTF-16 code units of their names (§3.2.3), no whitespace, strings
 * escaped as ECMAScript's JSON.stringify does (§3.2.2.2), numbers in their
 * ECMAScript shortest form (§3.2.2.3).
 *
 * @throws TypeError for a value JSON cannot represent: undefined, a function,
 *   a bigint, a non-finite number, a lone surrogate, or nesting deeper than
 *   {@link MAX_JSON_DEPTH}.
 * @example
 * canonicalJson({ b: 1, a: [true, "x"] }); // '{"a":[true,"x"],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, 0);
}

function serialize(value: unknown, depth: number): string {
  if (depth > MAX_JSON_DEPTH) throw new TypeError("JSON nesting too deep");
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("JSON cannot represent a non-finite number");
      // JSON.stringify of a finite number is ECMAScript's Number::toString, which RFC 8785 §3.2.2.3 adopts (and -0 → "0").
      return JSON.stringify(value);
    case "string":
      if (LONE_SURROGATE.test(value)) throw new TypeError("JSON strings must not hold lone surrogates (RFC 7493)");
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map((v) => serialize(v, depth + 1)).join(",")}]`;
      if (ArrayBuffer.isView(value)) throw new TypeError("encode bytes as base64 or hex before serializing");
      const names = Object.keys(value).sort();
      const members: string[] = [];
      for (const name of names) {
        const member = (value as Record<string, unknown>)[name];
        if (member === undefined) throw new TypeError("JSON cannot represent undefined");
        members.push(`${serialize(name, depth + 1)}:${serialize(member, depth + 1)}`);
      }
      return `{${members.join(",")}}`;
    }
    default:
      throw new TypeError(`JSON cannot represent a ${typeof value}`);
  }
}

/** UTF-8 bytes of {@link canonicalJson}. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

/**
 * Parse JSON text from bytes, strictly: at most `maxBytes`, valid UTF-8
 * without a byte-order mark, valid JSON, within the depth bound, no lone
 * surrogates, and — unless `canonical` is false — exactly the RFC 8785
 * canonical serialization of the parsed value.
 *
 * @throws MalformedError naming `what`: `too-large`, `bad-value` (not UTF-8,
 *   not JSON, not canonical), `too-deep`.
 */
export function parseJsonBytes(
  bytes: Uint8Array,
  what: string,
  options: { readonly maxBytes: number; readonly canonical?: boolean },
): JsonValue {
  if (bytes.length > options.maxBytes) {
    throw new MalformedError("too-large", what, `${bytes.length} bytes exceeds ${options.maxBytes}`);
  }
  let text: string;
  try {
    // ignoreBOM keeps a leading U+FEFF in the text, where JSON.parse refuses it.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new MalformedError("bad-value", what, "not UTF-8", { cause });
  }
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (cause) {
    // SyntaxError, or a RangeError from nesting deep enough to exhaust the stack.
    throw new MalformedError("bad-value", what, "not JSON", { cause });
  }
  checkJsonValue(value, what);
  if (options.canonical !== false && canonicalJson(value) !== text) {
    throw new MalformedError("bad-value", what, "not in RFC 8785 canonical form");
  }
  return value;
}

/**
 * Check that a parsed value is JSON that {@link canonicalJson} can serialize:
 * no lone surrogates in strings or member names, no nesting deeper than
 * {@link MAX_JSON_DEPTH}, no `__proto__` member (it would change an object's
 * prototype when copied by assignment).
 *
 * @throws MalformedError naming `what`.
 */
export function checkJsonValue(value: unknown, what: string, depth = 0): asserts value is JsonValue {
  if (depth > MAX_JSON_DEPTH) throw new MalformedError("too-deep", what, `nesting beyond ${MAX_JSON_DEPTH}`);
  if (value === null || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new MalformedError("bad-value", what, "not a finite number");
    return;
  }
  if (typeof value === "string") {
    if (LONE_SURROGATE.test(value)) throw new MalformedError("bad-value", what, "lone surrogate in a string");
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJsonValue(value[i], `${what}[${i}]`, depth + 1);
    return;
  }
  if (typeof value === "object" && isPlainObject(value)) {
    for (const [name, member] of Object.entries(value)) {
      if (LONE_SURROGATE.test(name)) throw new MalformedError("bad-value", what, "lone surrogate in a member name");
      if (name === "__proto__") throw new MalformedError("bad-value", what, "member name __proto__ is not allowed");
      checkJsonValue(member, `${what}.${printable(name)}`, depth + 1);
    }
    return;
  }
  throw new MalformedError("bad-value", what, "not a JSON value");
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A member name for an error's `what`: untrusted, so bounded and stripped of anything unusual. */
export function printable(name: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(name) ? name : "<member>";
}

/** A JSON object (not an array, not null), or a MalformedError naming `what`. */
export function expectObject(value: unknown, what: string): Readonly<Record<string, unknown>> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || !isPlainObject(value)) {
    throw new MalformedError("bad-value", what, "expected a JSON object");
  }
  return value as Readonly<Record<string, unknown>>;
}

/**
 * An object with exactly the member names `names` (no more, no fewer): a
 * strict schema, so that a document cannot carry fields a verifier ignores.
 */
export function expectMembers(
  value: unknown,
  what: string,
  names: readonly string[],
): Readonly<Record<string, unknown>> {
  const obj = expectObject(value, what);
  const have = Object.keys(obj);
  for (const name of have) {
    if (!names.includes(name)) throw new MalformedError("bad-value", what, `unknown member ${printable(name)}`);
  }
  for (const name of names) {
    if (!Object.hasOwn(obj, name)) throw new MalformedError("bad-value", what, `missing member ${name}`);
  }
  return obj;
}

/** An array of at most `max` elements. */
export function expectArray(value: unknown, what: string, max: number): readonly unknown[] {
  if (!Array.isArray(value)) throw new MalformedError("bad-value", what, "expected a JSON array");
  if (value.length > max) throw new MalformedError("too-large", what, `${value.length} elements exceeds ${max}`);
  return value;
}

/** A safe integer in [min, max]. */
export function expectInteger(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new MalformedError("bad-value", what, `expected an integer in ${min}..${max}`);
  }
  return value;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * A string of 1 to `maxLength` UTF-16 code units with no control characters
 * and no lone surrogates: names and versions shown to people and policies.
 */
export function expectText(value: unknown, what: string, maxLength: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > maxLength) {
    throw new MalformedError("bad-value", what, `expected a string of 1..${maxLength} characters`);
  }
  if (CONTROL.test(value) || LONE_SURROGATE.test(value)) {
    throw new MalformedError("bad-value", what, "control character or lone surrogate in a string");
  }
  return value;
}

/** A lower-case hex string of exactly `bytes` bytes (the canonical digest spelling). */
export function expectHexDigest(value: unknown, what: string, bytes: number): string {
  if (typeof value !== "string" || value.length !== 2 * bytes || !/^[0-9a-f]*$/.test(value)) {
    throw new MalformedError("bad-hex", what, `expected ${2 * bytes} lower-case hex digits`);
  }
  return value;
}
