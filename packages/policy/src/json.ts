/**
 * Policy files are read with core's strict JSON reader (core/src/json-parse.ts:
 * RFC 8259 grammar, no duplicate member names, no byte-order mark), with
 * the bounds a policy needs.
 */
import { parseStrictJson as parseStrictJsonText } from "@veritee/core";

/** Largest policy text accepted, in UTF-16 code units (a policy is a few KiB; 1 Mi leaves room for many roots). */
export const MAX_POLICY_TEXT = 1 << 20;
/** Deepest nesting accepted (a version 1 policy nests 4 deep). */
export const MAX_POLICY_DEPTH = 32;

/**
 * Parse policy JSON text strictly, within {@link MAX_POLICY_TEXT} and
 * {@link MAX_POLICY_DEPTH}.
 *
 * @throws MalformedError naming "policy JSON" and the offset; never another error.
 * @example
 * parseStrictJson('{"a":1,"a":2}'); // throws: duplicate member name
 */
export function parseStrictJson(input: string | Uint8Array): unknown {
  return parseStrictJsonText(input, { what: "policy JSON", maxText: MAX_POLICY_TEXT, maxDepth: MAX_POLICY_DEPTH });
}
