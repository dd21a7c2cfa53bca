/**
 * The Azure confidential VM section of a policy: which verified Azure vTPM
 * attestations are acceptable. The evidence package has proven the chain
 * hardware report → runtime claims → AK → TPM quote
 * (`verifyAzureVtpmAttestation`); this module decides whether the VM
 * configuration the claims state is allowed, and delegates the hardware
 * report to the SEV-SNP or TDX rules. No cryptography here.
 *
 * JSON shape (every member required; `"any"` skips a check, written out):
 *
 * ```json
 * {
 *   "platforms": ["snp", "tdx"] | "any",
 *   "secureBoot": "required" | "any",
 *   "tpmEnabled": "required" | "any",
 *   "allowConsole": false,
 *   "snp": { …the SEV-SNP section (parseSnpRules)… } | "any",
 *   "tdx": { …the TDX section (parseTdxRules)… } | "any"
 * }
 * ```
 *
 * The hardware report's report data is the hash of the runtime claims,
 * which the verifier has already checked; a `"bound"` reportData rule in
 * the delegated section is evaluated against exactly that value. Writing
 * `"any"` for the platform section of a platform the policy allows accepts
 * any measurement of that TEE, and is meant for development only.
 */
import { VerifiedAzureVtpm } from "@veritee/evidence";
import type { Appraisal, Claim } from "../appraisal.js";
import { ClaimList } from "../claims.js";
import { ANY } from "../document.js";
import { fail, object, quotedMember } from "../json-rules.js";
import { appraiseSection } from "./appraise.js";
import { parseSnpRules, type SnpRules, snpClaims } from "./snp.js";
import { parseTdxRules, type TdxRules, tdxClaims } from "./tdx.js";

/** The hardware TEE under the paravisor. */
export type AzurePlatform = "snp" | "tdx";
const PLATFORMS: readonly AzurePlatform[] = ["snp", "tdx"];

/** A validated Azure confidential VM policy section (see the module comment for the JSON). */
export interface AzureVtpmRules {
  readonly platforms: readonly AzurePlatform[] | typeof ANY;
  readonly secureBoot: "required" | typeof ANY;
  readonly tpmEnabled: "required" | typeof ANY;
  readonly allowConsole: boolean;
  readonly snp: SnpRules | typeof ANY;
  readonly tdx: TdxRules | typeof ANY;
}

const MEMBERS = ["platforms", "secureBoot", "tpmEnabled", "allowConsole", "snp", "tdx"] as const;

function required(value: unknown, path: string): "required" | typeof ANY {
  if (value !== "required" && value !== ANY) fail(path, 'must be "required" or "any"');
  return value;
}

/**
 * Validate an Azure confidential VM policy section (the JSON value, already
 * parsed) into deep-frozen {@link AzureVtpmRules}. Strict and fail-closed:
 * every member required, unknown members refused; the `snp` and `tdx`
 * sections are validated by `parseSnpRules` and `parseTdxRules`.
 *
 * @param path the section's JSON path, for error messages (default `azureVtpm`).
 * @throws PolicyError `invalid-policy` naming the offending member's path.
 * @example
 * const rules = parseAzureVtpmRules(JSON.parse(text).azureVtpm);
 */
export function parseAzureVtpmRules(value: unknown, path = "azureVtpm"): AzureVtpmRules {
  const o = object(value, path, MEMBERS, quotedMember);
  let platforms: readonly AzurePlatform[] | typeof ANY = ANY;
  if (o.platforms !== ANY) {
    if (!Array.isArray(o.platforms) || o.platforms.length === 0)
      fail(`${path}.platforms`, 'must be a non-empty array or "any"');
    platforms = Object.freeze(
      o.platforms.map((p: unknown, i: number) => {
        if (!PLATFORMS.includes(p as AzurePlatform)) fail(`${path}.platforms[${i}]`, 'must be "snp" or "tdx"');
        return p as AzurePlatform;
      }),
    );
    if (new Set(platforms).size !== platforms.length) fail(`${path}.platforms`, "lists a platform twice");
  }
  if (typeof o.allowConsole !== "boolean") fail(`${path}.allowConsole`, "must be true or false");
  return Object.freeze({
    platforms,
    secureBoot: required(o.secureBoot, `${path}.secureBoot`),
    tpmEnabled: required(o.tpmEnabled, `${path}.tpmEnabled`),
    allowConsole: o.allowConsole,
    snp: o.snp === ANY ? ANY : parseSnpRules(o.snp, `${path}.snp`),
    tdx: o.tdx === ANY ? ANY : parseTdxRules(o.tdx, `${path}.tdx`),
  });
}

/** Options of {@link azureVtpmClaims} and {@link evaluateAzureVtpm}. */
export interface EvaluateAzureVtpmOptions {
  /** The section's JSON path, prefixed to every claim's path (default `azureVtpm`). */
  readonly path?: string;
  /** The time the evaluation is made for (default: the attestation's verification time). */
  readonly now?: Date;
}

/**
 * Every claim of `rules` against a verified attestation, passed or failed,
 * in this order: platforms, secureBoot, tpmEnabled, allowConsole, then the
 * delegated SEV-SNP or TDX claims (paths under `<path>.snp` / `<path>.tdx`).
 * Codes: `tee-attribute-not-allowed` (platform, secure boot, TPM, console)
 * and those of the delegated rules.
 *
 * @throws TypeError for evidence that is not a `VerifiedAzureVtpm`.
 */
export function azureVtpmClaims(
  rules: AzureVtpmRules,
  verified: VerifiedAzureVtpm,
  options: EvaluateAzureVtpmOptions = {},
): readonly Claim[] {
  // Policy accepts only what the verifier made: never decoded-but-unverified evidence.
  if (!VerifiedAzureVtpm.is(verified)) {
    throw new TypeError("azureVtpmClaims takes a VerifiedAzureVtpm (from verifyAzureVtpmAttestation)");
  }
  const prefix = options.path ?? "azureVtpm";
  const claims = new ClaimList(prefix);
  const cfg = verified.claims.vmConfiguration;
  const platforms = rules.platforms;
  claims.add(
    "platforms",
    "Azure CVM hardware platform",
    platforms === ANY ? ANY : platforms.join(", "),
    verified.platform,
    platforms === ANY || platforms.includes(verified.platform),
    "tee-attribute-not-allowed",
  );
  const on = (v: boolean) => (v ? "on" : "off");
  claims.add(
    "secureBoot",
    "Azure CVM secure boot",
    rules.secureBoot === ANY ? ANY : "on",
    on(cfg.secureBoot),
    rules.secureBoot === ANY || cfg.secureBoot,
    "tee-attribute-not-allowed",
  );
  claims.add(
    "tpmEnabled",
    "Azure CVM vTPM",
    rules.tpmEnabled === ANY ? ANY : "on",
    on(cfg.tpmEnabled),
    rules.tpmEnabled === ANY || cfg.tpmEnabled,
    "tee-attribute-not-allowed",
  );
  claims.add(
    "allowConsole",
    "Azure CVM serial console",
    rules.allowConsole ? "allowed" : "off",
    on(cfg.consoleEnabled),
    rules.allowConsole || !cfg.consoleEnabled,
    "tee-attribute-not-allowed",
  );
  const expectedReportData = verified.expectedReportData;
  const hw = verified.hardware;
  if (hw.kind === "snp") {
    if (rules.snp === ANY)
      claims.add("snp", "Azure CVM SEV-SNP report", ANY, "not checked", true, "measurement-mismatch");
    else {
      claims.push(
        ...snpClaims(rules.snp, hw.snp, {
          expectedReportData,
          path: `${prefix}.snp`,
          ...(options.now ? { now: options.now } : {}),
        }),
      );
    }
  } else if (rules.tdx === ANY) {
    claims.add("tdx", "Azure CVM TDX quote", ANY, "not checked", true, "measurement-mismatch");
  } else {
    claims.push(
      ...tdxClaims(rules.tdx, hw.tdx, {
        expectedReportData,
        path: `${prefix}.tdx`,
        ...(options.now ? { now: options.now } : {}),
      }),
    );
  }
  return claims.claims;
}

/**
 * Evaluate a verified Azure confidential VM attestation against validated
 * rules: every claim of {@link azureVtpmClaims}, and an appraisal when all pass.
 *
 * @throws PolicyError with the first failing claim's code; its `appraisal`
 *   lists every claim. TypeError for evidence that is not a `VerifiedAzureVtpm`.
 * @example
 * const verified = await verifyAzureVtpmAttestation({ hclReport, snp: { vcek }, quote, akPublic, nonce, at });
 * const appraisal = evaluateAzureVtpm(parseAzureVtpmRules(section), verified);
 */
export function evaluateAzureVtpm(
  rules: AzureVtpmRules,
  verified: VerifiedAzureVtpm,
  options: EvaluateAzureVtpmOptions = {},
): Appraisal {
  return appraiseSection(azureVtpmClaims(rules, verified, options), options.now ?? verified.verifiedAt);
}
