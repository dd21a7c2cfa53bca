/**
 * The strict JSON checks every part of a policy is validated with (the
 * document in validate.ts and each TEE section in tee/*.ts): one place for
 * what "fail closed" means — exact members, bounded lists, lower-case hex of
 * the exact size — and for how a failure names its JSON path.
 */
import { ANY } from "./document.js";
import { PolicyError } from "./errors.js";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Most values in one list of alternatives. */
export const MAX_ALTERNATIVES = 64;

/** A member of `path` for messages and `PolicyError.path`: `a.b`, `a["x.y"]`, `a[0]`. */
export function child(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  if (IDENTIFIER.test(key) && key.length <= 64) return path === "" ? key : `${path}.${key}`;
  return quotedMember(path, key);
}

/** `a["x"]` whatever `x` is: quoted and cut short, since a member name comes from the file and may be anything. */
export function quotedMember(path: string, key: string): string {
  const shown = JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
  return `${path}[${shown}]`;
}

/** @throws PolicyError `invalid-policy` for `path` (the whole policy when empty). */
export function fail(path: string, detail: string, cause?: unknown): never {
  throw new PolicyError("invalid-policy", `${path === "" ? "the policy" : path}: ${detail}`, {
    path,
    ...(cause === undefined ? {} : { cause }),
  });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** A plain JSON object (any members). */
export function plainObject(value: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(value)) fail(path, `must be an object, not ${typeName(value)}`);
  return value;
}

/**
 * An object with exactly `members`: a missing one and an unknown one are both
 * errors. `unknownPath` names an unknown member (default {@link child}).
 */
export function object(
  value: unknown,
  path: string,
  members: readonly string[],
  unknownPath: (path: string, name: string) => string = child,
): Record<string, unknown> {
  const o = plainObject(value, path);
  for (const name of Object.keys(o)) {
    if (!members.includes(name)) fail(unknownPath(path, name), "unknown member (a version 1 policy does not have it)");
  }
  for (const name of members) {
    if (!Object.hasOwn(o, name))
      fail(child(path, name), 'missing (every member is required; write "any" to skip a check)');
  }
  return o;
}

export function array(value: unknown, path: string, min: number, max: number): readonly unknown[] {
  if (!Array.isArray(value)) fail(path, `must be an array, not ${typeName(value)}`);
  if (value.length < min) fail(path, min === 1 ? "must not be empty" : `must have at least ${min} entries`);
  if (value.length > max) fail(path, `must have at most ${max} entries`);
  return value;
}

export function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value)) fail(path, `must be an integer, not ${typeName(value)}`);
  if (value < min || value > max) fail(path, `must be ${min}..${max}`);
  return value;
}

export function boolean(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") fail(path, `must be true or false, not ${typeName(value)}`);
  return value;
}

export function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    fail(path, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
  }
  return value as T;
}

/** Exactly `bytes` bytes as lower-case hex. */
export function hex(value: unknown, path: string, bytes: number): string {
  if (typeof value !== "string" || value.length !== bytes * 2 || !/^[0-9a-f]*$/.test(value)) {
    fail(path, `must be ${bytes * 2} lower-case hex digits`);
  }
  return value;
}

/** A value of `bytes` bytes in hex, a non-empty list of distinct ones, or `"any"`. */
export function hexSpec(value: unknown, path: string, bytes: number): string | readonly string[] | typeof ANY {
  if (value === ANY) return ANY;
  if (typeof value === "string") return hex(value, path, bytes);
  const items = array(value, path, 1, MAX_ALTERNATIVES).map((v, i) => hex(v, child(path, i), bytes));
  if (new Set(items).size !== items.length) fail(path, "lists a value twice");
  return Object.freeze(items);
}
