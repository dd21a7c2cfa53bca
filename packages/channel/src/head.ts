/**
 * The sealed response head: the real status and the few header fields that
 * belong to the plaintext response (its content type, `retry-after`, …). It
 * is the plaintext of a response's first frame, so an observer sees neither
 * and a relay cannot change them.
 *
 *     u16 status                         100–599
 *     u8  count                          0–16 fields
 *     count × { u8 name length ‖ name    1–64 bytes, lower-case token (RFC 9110 §5.1)
 *               u16 value length ‖ value 0–1024 bytes, visible ASCII, space, tab (RFC 9110 §5.5) }
 *
 * Names are unique. Integers are big-endian.
 */
import { ByteReader, ByteWriter, MalformedError } from "@veritee/core";
import { MAX_HEAD_FIELDS, MAX_HEAD_NAME, MAX_HEAD_VALUE } from "./wire.js";

/** A response's status and sealed header fields. */
export interface ResponseHead {
  /** The HTTP status, 100–599. */
  readonly status: number;
  /** Header fields by lower-case name, in their order. */
  readonly headers: Readonly<Record<string, string>>;
}

/** RFC 9110 §5.6.2 tchar, lower-case letters only (names are compared lower-cased). */
const NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
/** RFC 9110 §5.5 field-value without obs-text: VCHAR, SP, HTAB, no leading or trailing whitespace. */
const VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?$/;

function checkHead(head: ResponseHead, fail: (what: string, detail: string) => never): void {
  if (!Number.isInteger(head.status) || head.status < 100 || head.status > 599) fail("status", "not 100..599");
  const names = Object.keys(head.headers);
  if (names.length > MAX_HEAD_FIELDS) fail("headers", `more than ${MAX_HEAD_FIELDS} fields`);
  for (const name of names) {
    if (name.length === 0 || name.length > MAX_HEAD_NAME || !NAME.test(name))
      fail("headers.name", "not a lower-case token of 1..64 bytes");
    const value = head.headers[name]!;
    if (typeof value !== "string" || value.length > MAX_HEAD_VALUE || !VALUE.test(value)) {
      fail("headers.value", `not a field value of at most ${MAX_HEAD_VALUE} visible ASCII bytes`);
    }
  }
}

/**
 * Encode a response head.
 *
 * @throws RangeError for a status or field outside the format (see the module comment).
 * @example
 * encodeResponseHead({ status: 200, headers: { "content-type": "application/json" } });
 */
export function encodeResponseHead(head: ResponseHead): Uint8Array {
  checkHead(head, (what, detail) => {
    throw new RangeError(`ResponseHead.${what}: ${detail}`);
  });
  const w = new ByteWriter();
  const names = Object.keys(head.headers);
  w.u16(head.status).u8(names.length);
  const encoder = new TextEncoder();
  for (const name of names) {
    const n = encoder.encode(name);
    const v = encoder.encode(head.headers[name]!);
    w.u8(n.length).bytes(n).u16(v.length).bytes(v);
  }
  return w.finish();
}

/**
 * Decode a response head strictly: exact structure, no trailing bytes, the
 * limits and character sets above, no repeated name.
 *
 * @throws MalformedError naming the field.
 */
export function decodeResponseHead(bytes: Uint8Array): ResponseHead {
  const r = new ByteReader(bytes, "ResponseHead");
  const status = r.u16("status");
  const count = r.u8("count");
  if (count > MAX_HEAD_FIELDS)
    throw new MalformedError("too-large", "ResponseHead.count", `more than ${MAX_HEAD_FIELDS} fields`);
  const headers: Record<string, string> = Object.create(null);
  const decoder = new TextDecoder("ascii");
  for (let i = 0; i < count; i++) {
    const nameLength = r.u8("name.length");
    if (nameLength > MAX_HEAD_NAME)
      throw new MalformedError("too-large", "ResponseHead.name", `longer than ${MAX_HEAD_NAME}`);
    const name = decoder.decode(r.bytes(nameLength, "name"));
    const valueLength = r.u16("value.length");
    if (valueLength > MAX_HEAD_VALUE)
      throw new MalformedError("too-large", "ResponseHead.value", `longer than ${MAX_HEAD_VALUE}`);
    const value = decoder.decode(r.bytes(valueLength, "value"));
    if (name in headers) throw new MalformedError("bad-value", "ResponseHead.name", "a field is repeated");
    headers[name] = value;
  }
  r.end();
  const head: ResponseHead = Object.freeze({ status, headers: Object.freeze(headers) });
  checkHead(head, (what, detail) => {
    throw new MalformedError("bad-value", `ResponseHead.${what}`, detail);
  });
  return head;
}
