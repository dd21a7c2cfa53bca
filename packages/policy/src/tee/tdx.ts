/**
 * The Intel TDX section of a policy: which verified TDX quotes are
 * acceptable. The evidence package has proven the quote (PCK chain to
 * Intel's root, QE report, attestation key binding, quote signature,
 * collateral and TCB status: `verifyTdxQuote`); this module decides
 * whether what it says is allowed. No cryptography here.
 *
 * JSON shape (every member required; `"any"` skips a check, written out):
 *
 * ```json
 * {
 *   "mrTd": "<96 hex>" | ["<96 hex>", …] | "any",
 *   "rtmr0": …, "rtmr1": …, "rtmr2": …, "rtmr3": …,
 *   "mrSeam": ["<96 hex>", …] | "any",
 *   "mrSignerSeam": "<96 hex>" | [ … ] | "any",
 *   "mrConfigId": …, "mrOwner": …, "mrOwnerConfig": …,
 *   "tdAttributes": { "allowDebug": false, "mask": "<16 hex>", "value": "<16 hex>" },
 *   "xfam": "<16 hex>" | [ … ] | "any",
 *   "tcbStatus": ["UpToDate", "SWHardeningNeeded"],
 *   "reportData": "bound" | "any",
 *   "revocation": "required" | "any"
 * }
 * ```
 *
 * Hex is lower case; TDATTRIBUTES and XFAM are written as they appear in
 * the quote (8 bytes, little-endian, so bit 0 is the first byte's low bit).
 * `tdAttributes`: bit 0 (DEBUG, Intel TDX Module ABI §TDATTRIBUTES) must be
 * clear unless `allowDebug`; the other bits must satisfy
 * `(attributes & mask) == value` (`mask` may not contain bit 0, `value`
 * may not have bits outside `mask`). `tcbStatus` lists the accepted
 * statuses; the platform's, the QE's and (for module versions above 0) the
 * TDX module's status must each be listed; "Revoked" may not be listed.
 * `reportData: "bound"` requires REPORTDATA to equal the 64 bytes the caller
 * expects, passed to {@link evaluateTdx}. `revocation: "required"` requires
 * that the PCK and root CA CRLs were checked.
 */
import { toHex } from "@veritee/core";
import { TDX_TCB_STATUSES, type TdxTcbStatus, VerifiedTdxQuote } from "@veritee/evidence";
import type { Appraisal, Claim } from "../appraisal.js";
import { ClaimList } from "../claims.js";
import type { ANY } from "../document.js";
import { fail, hex, hexSpec, object, oneOf } from "../json-rules.js";
import { appraiseSection } from "./appraise.js";

/** A lower-case hex value, a non-empty list of distinct ones, or "any". */
export type TdxHexSpec = typeof ANY | string | readonly string[];

/** TDATTRIBUTES rule. */
export interface TdxAttributesRule {
  readonly allowDebug: boolean;
  /** 16 hex digits: the bits (other than DEBUG) that are checked. */
  readonly mask: string;
  /** 16 hex digits: what the masked bits must be. */
  readonly value: string;
}

/** A validated TDX policy section. */
export interface TdxRules {
  readonly mrTd: TdxHexSpec;
  readonly rtmr0: TdxHexSpec;
  readonly rtmr1: TdxHexSpec;
  readonly rtmr2: TdxHexSpec;
  readonly rtmr3: TdxHexSpec;
  readonly mrSeam: TdxHexSpec;
  readonly mrSignerSeam: TdxHexSpec;
  readonly mrConfigId: TdxHexSpec;
  readonly mrOwner: TdxHexSpec;
  readonly mrOwnerConfig: TdxHexSpec;
  readonly tdAttributes: TdxAttributesRule;
  readonly xfam: TdxHexSpec;
  readonly tcbStatus: readonly TdxTcbStatus[];
  readonly reportData: "bound" | "any";
  readonly revocation: "required" | "any";
}

const MEMBERS = [
  "mrTd",
  "rtmr0",
  "rtmr1",
  "rtmr2",
  "rtmr3",
  "mrSeam",
  "mrSignerSeam",
  "mrConfigId",
  "mrOwner",
  "mrOwnerConfig",
  "tdAttributes",
  "xfam",
  "tcbStatus",
  "reportData",
  "revocation",
] as const;
const MEASUREMENTS = [
  "mrTd",
  "rtmr0",
  "rtmr1",
  "rtmr2",
  "rtmr3",
  "mrSeam",
  "mrSignerSeam",
  "mrConfigId",
  "mrOwner",
  "mrOwnerConfig",
] as const;
/**
 * Validate a TDX policy section (the JSON value, already parsed) into
 * deep-frozen {@link TdxRules}. Strict and fail-closed: every member
 * required, unknown members refused, values checked for type and format.
 *
 * @param path the section's JSON path for error messages (default `tdx`).
 * @throws PolicyError `invalid-policy` naming the offending member's path.
 * @example
 * const rules = parseTdxRules(JSON.parse(text).tdx);
 */
export function parseTdxRules(value: unknown, path = "tdx"): TdxRules {
  const o = object(value, path, MEMBERS);
  const specs = Object.fromEntries(MEASUREMENTS.map((m) => [m, hexSpec(o[m], `${path}.${m}`, 48)])) as Record<
    (typeof MEASUREMENTS)[number],
    TdxHexSpec
  >;
  const a = object(o.tdAttributes, `${path}.tdAttributes`, ["allowDebug", "mask", "value"]);
  if (typeof a.allowDebug !== "boolean") fail(`${path}.tdAttributes.allowDebug`, "must be true or false");
  const mask = BigInt(`0x${hex(a.mask, `${path}.tdAttributes.mask`, 8)}`);
  const val = BigInt(`0x${hex(a.value, `${path}.tdAttributes.value`, 8)}`);
  // Bytes as in the quote: the first byte's low bit is DEBUG.
  if ((mask >> 56n) & 1n) fail(`${path}.tdAttributes.mask`, "must not include DEBUG (bit 0); use allowDebug");
  if ((val & ~mask) !== 0n) fail(`${path}.tdAttributes.value`, "has bits outside mask");
  if (!Array.isArray(o.tcbStatus) || o.tcbStatus.length === 0) fail(`${path}.tcbStatus`, "must be a non-empty list");
  const accepted = TDX_TCB_STATUSES.filter((s) => s !== "Revoked");
  const statuses = o.tcbStatus.map((s, i) => oneOf(s, `${path}.tcbStatus[${i}]`, accepted));
  if (new Set(statuses).size !== statuses.length) fail(`${path}.tcbStatus`, "lists a status twice");
  return Object.freeze({
    ...specs,
    tdAttributes: Object.freeze({ allowDebug: a.allowDebug, mask: a.mask as string, value: a.value as string }),
    xfam: hexSpec(o.xfam, `${path}.xfam`, 8),
    tcbStatus: Object.freeze(statuses),
    reportData: oneOf(o.reportData, `${path}.reportData`, ["bound", "any"] as const),
    revocation: oneOf(o.revocation, `${path}.revocation`, ["required", "any"] as const),
  });
}

/** Options of {@link tdxClaims} and {@link evaluateTdx}. */
export interface EvaluateTdxOptions {
  /** The 64 bytes REPORTDATA must hold when `reportData` is "bound". */
  readonly expectedReportData?: Uint8Array;
  /** The section's JSON path, prefixed to every claim's path (default `tdx`). */
  readonly path?: string;
  /** The time the evaluation is made for (default: the quote's verification time). */
  readonly now?: Date;
}

/**
 * Every claim of the TDX rules against a verified quote, passed or failed,
 * in member order.
 *
 * @throws TypeError for evidence that is not a `VerifiedTdxQuote`.
 * @example
 * const claims = tdxClaims(rules, await verifyTdxQuote({ quote, collateral, at }));
 */
export function tdxClaims(
  rules: TdxRules,
  verified: VerifiedTdxQuote,
  options: EvaluateTdxOptions = {},
): readonly Claim[] {
  if (!(verified instanceof VerifiedTdxQuote)) {
    throw new TypeError("tdxClaims takes a VerifiedTdxQuote (from verifyTdxQuote)");
  }
  const prefix = options.path ?? "tdx";
  const b = verified.body;
  const claims = new ClaimList(prefix);
  const actual: Record<(typeof MEASUREMENTS)[number], Uint8Array> = {
    mrTd: b.mrTd,
    rtmr0: b.rtmrs[0],
    rtmr1: b.rtmrs[1],
    rtmr2: b.rtmrs[2],
    rtmr3: b.rtmrs[3],
    mrSeam: b.mrSeam,
    mrSignerSeam: b.mrSignerSeam,
    mrConfigId: b.mrConfigId,
    mrOwner: b.mrOwner,
    mrOwnerConfig: b.mrOwnerConfig,
  };
  for (const m of MEASUREMENTS) {
    const value = toHex(actual[m]);
    claims.match(m, `TDX ${m}`, rules[m], value, "measurement-mismatch");
  }
  const attrs = toHex(b.tdAttributes);
  const attrBits = BigInt(`0x${attrs}`);
  const debug = (attrBits >> 56n) & 1n;
  const ta = rules.tdAttributes;
  claims.add(
    "tdAttributes.allowDebug",
    "TDX debug attribute",
    ta.allowDebug ? "debug allowed" : "debug off",
    debug ? "debug on" : "debug off",
    ta.allowDebug || debug === 0n,
    "tee-attribute-not-allowed",
  );
  const mask = BigInt(`0x${ta.mask}`);
  claims.add(
    "tdAttributes.mask",
    "TDX attributes",
    `attributes & ${ta.mask} = ${ta.value}`,
    attrs,
    (attrBits & mask) === BigInt(`0x${ta.value}`),
    "tee-attribute-not-allowed",
  );
  const xfam = toHex(b.xfam);
  claims.match("xfam", "TDX XFAM", rules.xfam, xfam, "tee-attribute-not-allowed");
  const t = verified.tcb;
  const statuses = [t.platform, t.qe, ...(t.module === undefined ? [] : [t.module])];
  const actualTcb = `platform ${t.platform}, QE ${t.qe}${t.module === undefined ? "" : `, module ${t.module}`}`;
  const advisories = t.advisoryIds.length > 0 ? ` (${t.advisoryIds.join(", ")})` : "";
  claims.add(
    "tcbStatus",
    "TDX TCB status",
    `one of ${rules.tcbStatus.join(", ")}`,
    actualTcb + advisories,
    statuses.every((s) => rules.tcbStatus.includes(s)),
    "tcb-too-old",
  );
  const rd = toHex(b.reportData);
  if (rules.reportData === "any") {
    claims.add("reportData", "TDX report data", "any", rd, true, "report-data-mismatch");
  } else {
    const expected = options.expectedReportData;
    claims.add(
      "reportData",
      "TDX report data",
      expected === undefined ? "a binding (none given)" : toHex(expected),
      rd,
      expected !== undefined && toHex(expected) === rd,
      "report-data-mismatch",
    );
  }
  const r = verified.revocation;
  claims.add(
    "revocation",
    "TDX revocation lists",
    rules.revocation === "any" ? "any" : "PCK and root CRLs checked",
    `PCK CRL ${r.pckCrl ? "checked" : "not checked"}, root CRL ${r.rootCrl ? "checked" : "not checked"}`,
    rules.revocation === "any" || (r.pckCrl && r.rootCrl),
    "revocation-unchecked",
  );
  return claims.claims;
}

/**
 * Evaluate a verified TDX quote against validated rules: every claim of
 * {@link tdxClaims}, and an appraisal when all pass.
 *
 * @throws PolicyError with the first failing claim's code; its `appraisal`
 *   lists every claim. TypeError for evidence that is not a `VerifiedTdxQuote`.
 * @example
 * const appraisal = evaluateTdx(parseTdxRules(section), verified, { expectedReportData });
 */
export function evaluateTdx(rules: TdxRules, verified: VerifiedTdxQuote, options: EvaluateTdxOptions = {}): Appraisal {
  return appraiseSection(tdxClaims(rules, verified, options), options.now ?? verified.verifiedAt);
}
