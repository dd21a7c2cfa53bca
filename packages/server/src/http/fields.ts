/**
 * Small strict checks for values of a parsed JSON body. Each failure is a 400
 * `HttpError` whose message names the field (as a JSON path) and what it must
 * be — never the value received. `undefined` means "not given"; callers map
 * JSON `null` to it, as OpenAI's API treats null for optional fields.
 */
import { HttpError } from "./errors.js";

/** A parsed JSON object. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** The field's own value, or undefined when absent or null (never an inherited property). */
export function field(obj: JsonObject, name: string): unknown {
  if (!Object.hasOwn(obj, name)) return undefined;
  const value = obj[name];
  return value === null ? undefined : value;
}

/** A 400 naming the field at fault. */
export function invalid(param: string, requirement: string): HttpError {
  return new HttpError("invalid-request", `'${param}' ${requirement}.`, { param });
}

/** A 400 for a valid OpenAI feature that this server does not implement. */
export function unsupported(param: string, what: string): HttpError {
  return new HttpError("unsupported", `'${param}': ${what} is not supported by this server.`, { param });
}

/** Whether a value is a plain JSON object (not an array). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A required string. */
export function requiredString(value: unknown, path: string): string {
  if (value === undefined || value === null) throw invalid(path, "is required");
  if (typeof value !== "string") throw invalid(path, "must be a string");
  return value;
}

/** An optional boolean (the fallback when not given). */
export function optionalBoolean(value: unknown, fallback: boolean, path: string): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") throw invalid(path, "must be a boolean");
  return value;
}

/** An inclusive (or, with `minExclusive`, half-open) numeric range. */
export interface NumberRange {
  readonly min: number;
  readonly max: number;
  readonly minExclusive?: boolean;
}

/** An optional finite number within the range. */
export function optionalNumber(value: unknown, range: NumberRange, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const lowOk = typeof value === "number" && (range.minExclusive ? value > range.min : value >= range.min);
  if (typeof value !== "number" || !Number.isFinite(value) || !lowOk || value > range.max) {
    const low = range.minExclusive ? `greater than ${range.min}` : `at least ${range.min}`;
    throw invalid(path, `must be a number ${low} and at most ${range.max}`);
  }
  return value;
}

/** An optional integer within [min, max]. */
export function optionalInteger(value: unknown, range: NumberRange, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw invalid(path, `must be an integer between ${range.min} and ${range.max}`);
  }
  return value;
}
