/**
 * The shape checks every decoder of the protocol shares: exactly the
 * documented members, and the id rule of models, deployments and consumers.
 */
import { canonicalJsonBytes, expectObject, MalformedError } from "@veritee/core";

/** Largest counter on the wire (2^53 − 1: exact in JSON and in a double). */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** Model and deployment ids: 1–128 of A–Z a–z 0–9 . _ - (the sealed header's model id rule). */
export const OBJECT_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Check `value` is an object whose members are all in `required` ∪ `optional` and include every `required`. */
export function members(
  value: unknown,
  what: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Readonly<Record<string, unknown>> {
  const obj = expectObject(value, what);
  for (const name of Object.keys(obj)) {
    if (!required.includes(name) && !optional.includes(name)) {
      throw new MalformedError(
        "bad-value",
        what,
        `unknown member ${/^[A-Za-z0-9_-]{1,64}$/.test(name) ? name : "<member>"}`,
      );
    }
  }
  for (const name of required) {
    if (!Object.hasOwn(obj, name)) throw new MalformedError("bad-value", what, `missing member ${name}`);
  }
  return obj;
}

/** An object id (model or deployment). */
export function expectObjectId(value: unknown, what: string): string {
  if (typeof value !== "string" || !OBJECT_ID.test(value)) {
    throw new MalformedError("bad-value", what, "expected an id of 1..128 characters A-Z a-z 0-9 . _ -");
  }
  return value;
}

/**
 * What a signature of the protocol covers: a context string (its purpose,
 * ending in NUL, so no signature made for one purpose verifies for another)
 * and the RFC 8785 JSON of the payload.
 */
export function signingBytes(context: string, payload: unknown): Uint8Array {
  const prefix = new TextEncoder().encode(context);
  const body = canonicalJsonBytes(payload);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix);
  out.set(body, prefix.length);
  return out;
}
