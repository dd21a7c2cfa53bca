/**
 * The AMD SEV-SNP section of a policy: which verified SEV-SNP reports are
 * acceptable. The evidence package has proven the report (AMD chain,
 * signature, TCB binding: `verifySnpReport`); this module decides whether
 * what it says is allowed. No cryptography here.
 *
 * JSON shape (every member required; `"any"` skips a check, written out):
 *
 * ```json
 * {
 *   "measurement": "<96 hex>" | ["<96 hex>", …] | "any",
 *   "hostData": "<64 hex>" | [ … ] | "any",
 *   "reportData": "bound" | "any",
 *   "allowDebug": false,
 *   "allowMigrationAgent": false,
 *   "allowSmt": true,
 *   "minimumTcb": { "bootloader": 3, "tee": 0, "snp": 8, "microcode": 115, "fmc": 1 | "any" } | "any",
 *   "minimumGuestSvn": 0 | "any",
 *   "familyId": "<32 hex>" | [ … ] | "any",
 *   "imageId": "<32 hex>" | [ … ] | "any",
 *   "vmpl": 0 | [0, 1] | "any",
 *   "idKeyDigest": "<96 hex>" | [ … ] | "any",
 *   "authorKeyDigest": "<96 hex>" | [ … ] | "any",
 *   "products": ["Milan", "Genoa", "Turin"] | "any"
 * }
 * ```
 *
 * Hex is lower case. `reportData: "bound"` requires REPORT_DATA to equal the
 * 64 bytes the caller expects (e.g. SHA-512 over the Veritee nonce and key
 * set), passed to {@link evaluateSnp}; without them the claim fails.
 *
 * `minimumTcb` is checked against both REPORTED_TCB and COMMITTED_TCB,
 * component by component (a TCB is not a single ordered number; 56860 §2.2).
 * REPORTED_TCB is the one the VCEK certifies, so a minimum there keeps out
 * reports signed with keys of older, possibly compromised firmware;
 * COMMITTED_TCB is the anti-rollback floor, so a minimum there means the
 * platform cannot be rolled back below it. CURRENT_TCB may run ahead of
 * both and needs no bound. `fmc` applies to Turin only: Milan and Genoa
 * have no FMC, and the claim records "not applicable" for them.
 */
import { bytesEqual, toHex } from "@veritee/core";
import { SNP_PRODUCTS, type SnpProduct, type SnpTcbVersion, VerifiedSnpReport } from "@veritee/evidence";
import type { Appraisal, Claim } from "../appraisal.js";
import { ClaimList } from "../claims.js";
import { ANY } from "../document.js";
import { array, boolean, fail, hexSpec, integer, MAX_ALTERNATIVES, object, quotedMember } from "../json-rules.js";
import { appraiseSection } from "./appraise.js";

/** A digest or identifier of fixed length in lower-case hex, a non-empty list of them, or "any". */
export type SnpHexSpec = typeof ANY | string | readonly string[];

/** Minimum security patch levels, by TCB component. */
export interface SnpTcbMinimum {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin's FMC SPL; "any" to skip. */
  readonly fmc: number | typeof ANY;
}

/** A validated SEV-SNP policy section (see the module comment for the JSON). */
export interface SnpRules {
  readonly measurement: SnpHexSpec;
  readonly hostData: SnpHexSpec;
  readonly reportData: "bound" | typeof ANY;
  readonly allowDebug: boolean;
  readonly allowMigrationAgent: boolean;
  readonly allowSmt: boolean;
  readonly minimumTcb: SnpTcbMinimum | typeof ANY;
  readonly minimumGuestSvn: number | typeof ANY;
  readonly familyId: SnpHexSpec;
  readonly imageId: SnpHexSpec;
  readonly vmpl: readonly number[] | typeof ANY;
  readonly idKeyDigest: SnpHexSpec;
  readonly authorKeyDigest: SnpHexSpec;
  readonly products: readonly SnpProduct[] | typeof ANY;
}

const MEMBERS = [
  "measurement",
  "hostData",
  "reportData",
  "allowDebug",
  "allowMigrationAgent",
  "allowSmt",
  "minimumTcb",
  "minimumGuestSvn",
  "familyId",
  "imageId",
  "vmpl",
  "idKeyDigest",
  "authorKeyDigest",
  "products",
] as const;
const TCB_MEMBERS = ["bootloader", "tee", "snp", "microcode", "fmc"] as const;
/** Most values in one list (as the policy's digest lists). */
/**
 * Validate an SEV-SNP policy section (the JSON value, already parsed) into
 * deep-frozen {@link SnpRules}. Strict and fail-closed: every member
 * required, unknown members refused, values checked for type, range and
 * format.
 *
 * @param path the section's JSON path, for error messages (default `snp`).
 * @throws PolicyError `invalid-policy` naming the offending member's path.
 * @example
 * const rules = parseSnpRules(JSON.parse(text).snp);
 */
export function parseSnpRules(value: unknown, path = "snp"): SnpRules {
  const o = object(value, path, MEMBERS, quotedMember);
  const at = (name: string) => `${path}.${name}`;
  const reportData = o.reportData;
  if (reportData !== "bound" && reportData !== ANY) fail(at("reportData"), 'must be "bound" or "any"');
  let minimumTcb: SnpTcbMinimum | typeof ANY = ANY;
  if (o.minimumTcb !== ANY) {
    const t = object(o.minimumTcb, at("minimumTcb"), TCB_MEMBERS);
    const spl = (name: string) => integer(t[name], `${at("minimumTcb")}.${name}`, 0, 255);
    minimumTcb = Object.freeze({
      bootloader: spl("bootloader"),
      tee: spl("tee"),
      snp: spl("snp"),
      microcode: spl("microcode"),
      fmc: t.fmc === ANY ? ANY : spl("fmc"),
    });
  }
  let vmpl: readonly number[] | typeof ANY = ANY;
  if (o.vmpl !== ANY) {
    const values = typeof o.vmpl === "number" ? [o.vmpl] : array(o.vmpl, at("vmpl"), 1, MAX_ALTERNATIVES);
    vmpl = Object.freeze(
      values.map((v, i) => integer(v, typeof o.vmpl === "number" ? at("vmpl") : `${at("vmpl")}[${i}]`, 0, 3)),
    );
    if (new Set(vmpl).size !== vmpl.length) fail(at("vmpl"), "lists a VMPL twice");
  }
  let products: readonly SnpProduct[] | typeof ANY = ANY;
  if (o.products !== ANY) {
    products = Object.freeze(
      array(o.products, at("products"), 1, MAX_ALTERNATIVES).map((p, i) => {
        if (!SNP_PRODUCTS.includes(p as SnpProduct))
          fail(`${at("products")}[${i}]`, `must be one of ${SNP_PRODUCTS.join(", ")}`);
        return p as SnpProduct;
      }),
    );
    if (new Set(products).size !== products.length) fail(at("products"), "lists a product twice");
  }
  return Object.freeze({
    measurement: hexSpec(o.measurement, at("measurement"), 48),
    hostData: hexSpec(o.hostData, at("hostData"), 32),
    reportData,
    allowDebug: boolean(o.allowDebug, at("allowDebug")),
    allowMigrationAgent: boolean(o.allowMigrationAgent, at("allowMigrationAgent")),
    allowSmt: boolean(o.allowSmt, at("allowSmt")),
    minimumTcb,
    minimumGuestSvn: o.minimumGuestSvn === ANY ? ANY : integer(o.minimumGuestSvn, at("minimumGuestSvn"), 0, 0xffffffff),
    familyId: hexSpec(o.familyId, at("familyId"), 16),
    imageId: hexSpec(o.imageId, at("imageId"), 16),
    vmpl,
    idKeyDigest: hexSpec(o.idKeyDigest, at("idKeyDigest"), 48),
    authorKeyDigest: hexSpec(o.authorKeyDigest, at("authorKeyDigest"), 48),
    products,
  });
}

/** Inputs of {@link evaluateSnp} besides the rules and the report. */
export interface EvaluateSnpOptions {
  /** The 64 bytes REPORT_DATA must hold when `reportData` is "bound". */
  readonly expectedReportData?: Uint8Array;
  /** The section's JSON path, prefixed to every claim's path (default `snp`). */
  readonly path?: string;
  /** The time the evaluation is made for (default: the report's verification time). */
  readonly now?: Date;
}

function describeTcb(t: SnpTcbVersion): string {
  const fmc = t.fmc === undefined ? "" : `fmc ${t.fmc}, `;
  return `${fmc}bootloader ${t.bootloader}, tee ${t.tee}, snp ${t.snp}, microcode ${t.microcode}`;
}

/**
 * Every claim of `rules` against a verified report, passed or failed, in
 * this order: products, measurement, hostData, reportData, allowDebug,
 * allowMigrationAgent, allowSmt, minimumTcb (reported, then committed),
 * minimumGuestSvn, familyId, imageId, vmpl, idKeyDigest, authorKeyDigest.
 * Codes: `measurement-mismatch` (values and identities),
 * `report-data-mismatch`, `tee-attribute-not-allowed` (debug, migration
 * agent, SMT, VMPL, product), `tcb-too-old` (TCB, guest SVN).
 *
 * @throws TypeError for evidence that is not a `VerifiedSnpReport`.
 */
export function snpClaims(
  rules: SnpRules,
  verified: VerifiedSnpReport,
  options: EvaluateSnpOptions = {},
): readonly Claim[] {
  // Policy accepts only what the verifier made: never decoded-but-unverified evidence.
  if (!VerifiedSnpReport.is(verified))
    throw new TypeError("snpClaims takes a VerifiedSnpReport (from verifySnpReport)");
  const prefix = options.path ?? "snp";
  const r = verified.report;
  const claims = new ClaimList(prefix);
  const hex = (member: keyof SnpRules, name: string, spec: SnpHexSpec, value: Uint8Array) =>
    claims.match(member, name, spec, toHex(value), "measurement-mismatch");

  const products = rules.products;
  claims.add(
    "products",
    "SEV-SNP product",
    products === ANY ? ANY : products.join(", "),
    verified.product,
    products === ANY || products.includes(verified.product),
    "tee-attribute-not-allowed",
  );
  hex("measurement", "SEV-SNP launch measurement", rules.measurement, r.measurement);
  hex("hostData", "SEV-SNP host data", rules.hostData, r.hostData);

  const expected = options.expectedReportData;
  if (rules.reportData === ANY)
    claims.add("reportData", "SEV-SNP report data", ANY, toHex(r.reportData), true, "report-data-mismatch");
  else {
    claims.add(
      "reportData",
      "SEV-SNP report data",
      expected === undefined ? "bound (no expected value was given)" : toHex(expected),
      toHex(r.reportData),
      expected !== undefined && bytesEqual(expected, r.reportData),
      "report-data-mismatch",
    );
  }

  const bit = (member: keyof SnpRules, name: string, allowed: boolean, set: boolean) =>
    claims.add(
      member,
      name,
      allowed ? "allowed" : "off",
      set ? "on" : "off",
      allowed || !set,
      "tee-attribute-not-allowed",
    );
  bit("allowDebug", "SEV-SNP debug policy", rules.allowDebug, r.policy.debug);
  bit("allowMigrationAgent", "SEV-SNP migration agent policy", rules.allowMigrationAgent, r.policy.migrateMa);
  bit("allowSmt", "SEV-SNP SMT policy", rules.allowSmt, r.policy.smt);

  const min = rules.minimumTcb;
  for (const [which, tcb] of [
    ["reported", r.reportedTcb],
    ["committed", r.committedTcb],
  ] as const) {
    const name = `SEV-SNP ${which} TCB`;
    if (min === ANY) {
      claims.add("minimumTcb", name, ANY, describeTcb(tcb), true, "tcb-too-old");
      continue;
    }
    const low: string[] = [];
    for (const c of ["bootloader", "tee", "snp", "microcode"] as const) if (tcb[c] < min[c]) low.push(c);
    if (min.fmc !== ANY && tcb.fmc !== undefined && tcb.fmc < min.fmc) low.push("fmc");
    const fmc =
      min.fmc === ANY ? "" : tcb.fmc === undefined ? "fmc n/a (no FMC on this product), " : `fmc ≥ ${min.fmc}, `;
    claims.add(
      "minimumTcb",
      name,
      `${fmc}bootloader ≥ ${min.bootloader}, tee ≥ ${min.tee}, snp ≥ ${min.snp}, microcode ≥ ${min.microcode}`,
      low.length === 0 ? describeTcb(tcb) : `${describeTcb(tcb)} (below: ${low.join(", ")})`,
      low.length === 0,
      "tcb-too-old",
    );
  }
  const svn = rules.minimumGuestSvn;
  claims.add(
    "minimumGuestSvn",
    "SEV-SNP guest SVN",
    svn === ANY ? ANY : `at least ${svn}`,
    String(r.guestSvn),
    svn === ANY || r.guestSvn >= svn,
    "tcb-too-old",
  );
  hex("familyId", "SEV-SNP family ID", rules.familyId, r.familyId);
  hex("imageId", "SEV-SNP image ID", rules.imageId, r.imageId);
  const vmpl = rules.vmpl;
  claims.add(
    "vmpl",
    "SEV-SNP VMPL",
    vmpl === ANY ? ANY : vmpl.join(", "),
    String(r.vmpl),
    vmpl === ANY || vmpl.includes(r.vmpl),
    "tee-attribute-not-allowed",
  );
  hex("idKeyDigest", "SEV-SNP ID key digest", rules.idKeyDigest, r.idKeyDigest);
  hex("authorKeyDigest", "SEV-SNP author key digest", rules.authorKeyDigest, r.authorKeyDigest);
  return claims.claims;
}

/**
 * Evaluate a verified SEV-SNP report against validated rules: every claim
 * of {@link snpClaims}, and an appraisal when all pass.
 *
 * @throws PolicyError with the first failing claim's code; its `appraisal`
 *   lists every claim. TypeError for evidence that is not a `VerifiedSnpReport`.
 * @example
 * const verified = await verifySnpReport({ report, vcek, at });
 * const appraisal = evaluateSnp(parseSnpRules(section), verified, { expectedReportData });
 */
export function evaluateSnp(rules: SnpRules, verified: VerifiedSnpReport, options: EvaluateSnpOptions = {}): Appraisal {
  return appraiseSection(snpClaims(rules, verified, options), options.now ?? verified.verifiedAt);
}
