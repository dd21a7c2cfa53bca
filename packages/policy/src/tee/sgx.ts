/**
 * The Intel SGX section of a policy: which verified SGX enclaves are
 * acceptable. The evidence package has proven the quote (PCK chain to
 * Intel's root, QE report and its binding of the attestation key, quote
 * signature, SGX TCB info and QE identity, TCB status: `verifySgxQuote`);
 * this module decides whether the enclave it names is allowed. No
 * cryptography here.
 *
 * JSON shape (every member required; `"any"` skips a check, written out):
 *
 * ```json
 * {
 *   "mrEnclave": "<64 hex>" | ["<64 hex>", …] | "any",
 *   "mrSigner": "<64 hex>" | ["<64 hex>", …] | "any",
 *   "isvProdId": 0..65535 | "any",
 *   "minIsvSvn": 0..65535,
 *   "attributes": { "allowDebug": false, "mask": "<32 hex>", "value": "<32 hex>" },
 *   "tcbStatus": ["UpToDate", "SWHardeningNeeded"],
 *   "reportData": "bound" | "any",
 *   "revocation": "required" | "any"
 * }
 * ```
 *
 * Hex is lower case. `mrEnclave` and `mrSigner` may not both be "any": that
 * would accept any enclave from anyone. `attributes` is written as the
 * quote holds it (SGX ATTRIBUTES, 16 bytes: FLAGS little-endian ‖ XFRM);
 * FLAGS bit 1 is DEBUG (Intel SDM Vol. 3D §34.7.1, SECS.ATTRIBUTES), which
 * must be clear unless `allowDebug` (a debug enclave's memory is readable by
 * its host); the other bits must satisfy `(attributes & mask) == value`
 * (`mask` may not contain DEBUG, `value` may not have bits outside `mask`).
 * `minIsvSvn` is the lowest enclave security version accepted. `tcbStatus`
 * lists the accepted statuses; the platform's and the QE's must both be
 * listed; "Revoked" may not be. `reportData: "bound"` requires REPORTDATA to
 * equal the 64 bytes the caller expects, passed to {@link evaluateSgx}.
 * `revocation: "required"` requires that the PCK and root CA CRLs were checked.
 */
import { toHex } from "@veritee/core";
import { DCAP_TCB_STATUSES, type DcapTcbStatus, VerifiedSgxQuote } from "@veritee/evidence";
import type { Appraisal, Claim } from "../appraisal.js";
import { ClaimList } from "../claims.js";
import { ANY } from "../document.js";
import { fail, hex, hexSpec, integer, object, oneOf } from "../json-rules.js";
import { appraiseSection } from "./appraise.js";

/** A lower-case hex value, a non-empty list of distinct ones, or "any". */
export type SgxHexSpec = typeof ANY | string | readonly string[];

/** ATTRIBUTES rule. */
export interface SgxAttributesRule {
  readonly allowDebug: boolean;
  /** 32 hex digits: the bits (other than DEBUG) that are checked. */
  readonly mask: string;
  /** 32 hex digits: what the masked bits must be. */
  readonly value: string;
}

/** A validated SGX policy section. */
export interface SgxRules {
  readonly mrEnclave: SgxHexSpec;
  readonly mrSigner: SgxHexSpec;
  readonly isvProdId: number | typeof ANY;
  readonly minIsvSvn: number;
  readonly attributes: SgxAttributesRule;
  readonly tcbStatus: readonly DcapTcbStatus[];
  readonly reportData: "bound" | "any";
  readonly revocation: "required" | "any";
}

const MEMBERS = [
  "mrEnclave",
  "mrSigner",
  "isvProdId",
  "minIsvSvn",
  "attributes",
  "tcbStatus",
  "reportData",
  "revocation",
] as const;

/** DEBUG: FLAGS bit 1, i.e. bit 1 of the first ATTRIBUTES byte as the quote holds it. */
const DEBUG_BYTE = 0;
const DEBUG_BIT = 0x02;

/**
 * Validate an SGX policy section (the JSON value, already parsed) into
 * deep-frozen {@link SgxRules}. Strict and fail-closed: every member
 * required, unknown members refused, values checked for type and format.
 *
 * @param path the section's JSON path for error messages (default `sgx`).
 * @throws PolicyError `invalid-policy` naming the offending member's path.
 * @example
 * const rules = parseSgxRules(JSON.parse(text).platform.sgx, "platform.sgx");
 */
export function parseSgxRules(value: unknown, path = "sgx"): SgxRules {
  const o = object(value, path, MEMBERS);
  const mrEnclave = hexSpec(o.mrEnclave, `${path}.mrEnclave`, 32);
  const mrSigner = hexSpec(o.mrSigner, `${path}.mrSigner`, 32);
  if (mrEnclave === ANY && mrSigner === ANY) {
    fail(`${path}.mrEnclave`, 'mrEnclave and mrSigner cannot both be "any" (that accepts any enclave)');
  }
  const isvProdId = o.isvProdId === ANY ? ANY : integer(o.isvProdId, `${path}.isvProdId`, 0, 0xffff);
  const minIsvSvn = integer(o.minIsvSvn, `${path}.minIsvSvn`, 0, 0xffff);
  const a = object(o.attributes, `${path}.attributes`, ["allowDebug", "mask", "value"]);
  if (typeof a.allowDebug !== "boolean") fail(`${path}.attributes.allowDebug`, "must be true or false");
  const mask = hex(a.mask, `${path}.attributes.mask`, 16);
  const val = hex(a.value, `${path}.attributes.value`, 16);
  const maskBytes = bytesOf(mask);
  const valBytes = bytesOf(val);
  if (maskBytes[DEBUG_BYTE]! & DEBUG_BIT) {
    fail(`${path}.attributes.mask`, "must not include DEBUG (FLAGS bit 1); use allowDebug");
  }
  if (valBytes.some((b, i) => (b & ~maskBytes[i]!) !== 0)) fail(`${path}.attributes.value`, "has bits outside mask");
  if (!Array.isArray(o.tcbStatus) || o.tcbStatus.length === 0) fail(`${path}.tcbStatus`, "must be a non-empty list");
  const accepted = DCAP_TCB_STATUSES.filter((s) => s !== "Revoked");
  const statuses = o.tcbStatus.map((s, i) => oneOf(s, `${path}.tcbStatus[${i}]`, accepted));
  if (new Set(statuses).size !== statuses.length) fail(`${path}.tcbStatus`, "lists a status twice");
  return Object.freeze({
    mrEnclave,
    mrSigner,
    isvProdId,
    minIsvSvn,
    attributes: Object.freeze({ allowDebug: a.allowDebug, mask, value: val }),
    tcbStatus: Object.freeze(statuses),
    reportData: oneOf(o.reportData, `${path}.reportData`, ["bound", "any"] as const),
    revocation: oneOf(o.revocation, `${path}.revocation`, ["required", "any"] as const),
  });
}

function bytesOf(hexText: string): number[] {
  return Array.from({ length: hexText.length / 2 }, (_, i) => Number.parseInt(hexText.slice(2 * i, 2 * i + 2), 16));
}

/** Options of {@link sgxClaims} and {@link evaluateSgx}. */
export interface EvaluateSgxOptions {
  /** The 64 bytes REPORTDATA must hold when `reportData` is "bound". */
  readonly expectedReportData?: Uint8Array;
  /** The section's JSON path, prefixed to every claim's path (default `sgx`). */
  readonly path?: string;
  /** The time the evaluation is made for (default: the quote's verification time). */
  readonly now?: Date;
}

/**
 * Every claim of the SGX rules against a verified quote, passed or failed,
 * in member order.
 *
 * @throws TypeError for evidence that is not a `VerifiedSgxQuote`.
 * @example
 * const claims = sgxClaims(rules, await verifySgxQuote({ quote, collateral, at }));
 */
export function sgxClaims(
  rules: SgxRules,
  verified: VerifiedSgxQuote,
  options: EvaluateSgxOptions = {},
): readonly Claim[] {
  if (!(verified instanceof VerifiedSgxQuote)) {
    throw new TypeError("sgxClaims takes a VerifiedSgxQuote (from verifySgxQuote)");
  }
  const prefix = options.path ?? "sgx";
  const b = verified.body;
  const claims = new ClaimList(prefix);
  const mrEnclave = toHex(b.mrEnclave);
  claims.match("mrEnclave", "SGX MRENCLAVE", rules.mrEnclave, mrEnclave, "measurement-mismatch");
  const mrSigner = toHex(b.mrSigner);
  claims.match("mrSigner", "SGX MRSIGNER", rules.mrSigner, mrSigner, "measurement-mismatch");
  claims.add(
    "isvProdId",
    "SGX ISV product id",
    String(rules.isvProdId),
    String(b.isvProdId),
    rules.isvProdId === ANY || rules.isvProdId === b.isvProdId,
    "measurement-mismatch",
  );
  claims.add(
    "minIsvSvn",
    "SGX ISV SVN",
    `at least ${rules.minIsvSvn}`,
    String(b.isvSvn),
    b.isvSvn >= rules.minIsvSvn,
    "tcb-too-old",
  );
  const ra = rules.attributes;
  const debug = (b.attributes[DEBUG_BYTE]! & DEBUG_BIT) !== 0;
  claims.add(
    "attributes.allowDebug",
    "SGX debug attribute",
    ra.allowDebug ? "debug allowed" : "debug off",
    debug ? "debug on" : "debug off",
    ra.allowDebug || !debug,
    "tee-attribute-not-allowed",
  );
  const mask = bytesOf(ra.mask);
  const value = bytesOf(ra.value);
  claims.add(
    "attributes.mask",
    "SGX attributes",
    `attributes & ${ra.mask} = ${ra.value}`,
    toHex(b.attributes),
    mask.every((m, i) => (b.attributes[i]! & m) === value[i]),
    "tee-attribute-not-allowed",
  );
  const t = verified.tcb;
  const advisories = t.advisoryIds.length > 0 ? ` (${t.advisoryIds.join(", ")})` : "";
  claims.add(
    "tcbStatus",
    "SGX TCB status",
    `one of ${rules.tcbStatus.join(", ")}`,
    `platform ${t.platform}, QE ${t.qe}${advisories}`,
    rules.tcbStatus.includes(t.platform) && rules.tcbStatus.includes(t.qe),
    "tcb-too-old",
  );
  const rd = toHex(b.reportData);
  if (rules.reportData === "any") {
    claims.add("reportData", "SGX report data", "any", rd, true, "report-data-mismatch");
  } else {
    const expected = options.expectedReportData;
    claims.add(
      "reportData",
      "SGX report data",
      expected === undefined ? "a binding (none given)" : toHex(expected),
      rd,
      expected !== undefined && toHex(expected) === rd,
      "report-data-mismatch",
    );
  }
  const r = verified.revocation;
  claims.add(
    "revocation",
    "SGX revocation lists",
    rules.revocation === "any" ? "any" : "PCK and root CRLs checked",
    `PCK CRL ${r.pckCrl ? "checked" : "not checked"}, root CRL ${r.rootCrl ? "checked" : "not checked"}`,
    rules.revocation === "any" || (r.pckCrl && r.rootCrl),
    "revocation-unchecked",
  );
  return claims.claims;
}

/**
 * Evaluate a verified SGX quote against validated rules: every claim of
 * {@link sgxClaims}, and an appraisal when all pass.
 *
 * @throws PolicyError with the first failing claim's code; its `appraisal`
 *   lists every claim. TypeError for evidence that is not a `VerifiedSgxQuote`.
 * @example
 * const appraisal = evaluateSgx(parseSgxRules(section), verified, { expectedReportData });
 */
export function evaluateSgx(rules: SgxRules, verified: VerifiedSgxQuote, options: EvaluateSgxOptions = {}): Appraisal {
  return appraiseSection(sgxClaims(rules, verified, options), options.now ?? verified.verifiedAt);
}
