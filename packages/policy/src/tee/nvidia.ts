/**
 * The NVIDIA GPU section of a policy: which verified Hopper GPU attestation
 * reports are acceptable. The evidence package has proven the report
 * (device chain to NVIDIA's root, SPDM signature, nonce: `verifyGpuReport`);
 * this module decides whether what it says is allowed. No cryptography here.
 *
 * JSON shape (every member required; `"any"` skips a check, written out):
 *
 * ```json
 * {
 *   "measurements": "from-rim" | { "1": "<96 hex>" | ["<96 hex>", …] | "any", … } | "any",
 *   "driverVersion": { "allowed": ["550.90.07", …] } | { "minimum": "550.54.14" } | "any",
 *   "vbiosVersion": { "allowed": ["96.00.9F.00.01", …] } | { "minimum": "96.00.74.00.01" } | "any",
 *   "nonceBinding": "bound" | "any",
 *   "ppcieMode": "off" | "on" | "any"
 * }
 * ```
 *
 * `measurements` as an object names SPDM measurement indices (decimal
 * 1..254): every index the GPU reports must be listed and match, and every
 * listed index must be reported (fail closed: a firmware that adds a
 * measurement is refused until the policy names it). `"from-rim"` takes the
 * reference values from NVIDIA RIMs the caller passes ({@link EvaluateNvidiaOptions.rims}):
 * each RIM's product (Meta `product`, e.g. "GH100") must be the chip the
 * GPU's proven device certificate names (`VerifiedGpuReport.chip`; a RIM
 * for another chip, or a GPU whose certificate names none, is
 * `product-mismatch`), each RIM's version must be the reported driver or VBIOS version, each
 * active RIM measurement must be reported with one of its alternatives,
 * and an index that two RIMs both claim is refused; indices no RIM names
 * are not compared (NVIDIA's own verifier does the same).
 *
 * Versions: driver versions are dotted decimal ("550.90.07"), VBIOS
 * versions five dotted upper-case hex bytes ("96.00.9F.00.01"), compared
 * component by component for `minimum`.
 *
 * `nonceBinding: "bound"` requires the report to have been verified with
 * the Veritee session (`verifyGpuReport({ session })`, nonce =
 * `gpuNonceBinding`) and that session to be the one the CPU evidence
 * answers, passed as {@link EvaluateNvidiaOptions.session}.
 *
 * `ppcieMode`: Hopper's opaque data carries no "CC mode" field; the mode it
 * does report is protected PCIe (PPCIe, opaque field 21: 0x55 off, 0xAA
 * on). `"off"` requires a GPU in plain CC mode (each GPU in its own
 * confidential VM), `"on"` one in PPCIe mode; a report without the field
 * fails either.
 */
import { bytesEqual, toHex } from "@veritee/core";
import { VerifiedGpuReport, VerifiedGpuRim } from "@veritee/evidence";
import type { Appraisal, Claim } from "../appraisal.js";
import { ClaimList, describeAlternatives } from "../claims.js";
import { ANY } from "../document.js";
import { array, fail, hexSpec, MAX_ALTERNATIVES, object, plainObject } from "../json-rules.js";
import { appraiseSection } from "./appraise.js";

/** A measurement value: 96 lower-case hex digits (SHA-384), a non-empty list of them, or "any". */
export type NvidiaDigestSpec = typeof ANY | string | readonly string[];

/** A version rule: an allow-list, a minimum, or "any". */
export type NvidiaVersionRule = typeof ANY | { readonly allowed: readonly string[] } | { readonly minimum: string };

/** A validated NVIDIA GPU policy section (see the module comment for the JSON). */
export interface NvidiaRules {
  readonly measurements: typeof ANY | "from-rim" | ReadonlyMap<number, NvidiaDigestSpec>;
  readonly driverVersion: NvidiaVersionRule;
  readonly vbiosVersion: NvidiaVersionRule;
  readonly nonceBinding: "bound" | typeof ANY;
  readonly ppcieMode: "off" | "on" | typeof ANY;
}

const MEMBERS = ["measurements", "driverVersion", "vbiosVersion", "nonceBinding", "ppcieMode"] as const;
const DRIVER_VERSION = /^(0|[1-9][0-9]{0,3})(\.[0-9]{1,4}){1,3}$/;
const VBIOS_VERSION = /^[0-9A-F]{2}(\.[0-9A-F]{2}){4}$/;
/** Opaque PPCIe status bytes (NVIDIA's enabled/disabled convention). */
const PPCIE_ON = 0xaa;
const PPCIE_OFF = 0x55;

function versionRule(value: unknown, path: string, pattern: RegExp, example: string): NvidiaVersionRule {
  if (value === ANY) return ANY;
  const o = plainObject(value, path);
  const keys = Object.keys(o);
  if (keys.length !== 1 || (keys[0] !== "allowed" && keys[0] !== "minimum")) {
    fail(path, 'must be "any", { "allowed": [...] } or { "minimum": "..." }');
  }
  const one = (v: unknown, p: string): string => {
    if (typeof v !== "string" || !pattern.test(v)) fail(p, `must be a version like "${example}"`);
    return v;
  };
  if (keys[0] === "minimum") return Object.freeze({ minimum: one(o.minimum, `${path}.minimum`) });
  const allowed = array(o.allowed, `${path}.allowed`, 1, MAX_ALTERNATIVES).map((v, i) =>
    one(v, `${path}.allowed[${i}]`),
  );
  if (new Set(allowed).size !== allowed.length) fail(`${path}.allowed`, "lists a version twice");
  return Object.freeze({ allowed: Object.freeze(allowed) });
}

/**
 * Validate an NVIDIA GPU policy section (the JSON value, already parsed)
 * into frozen {@link NvidiaRules}. Strict and fail-closed: every member
 * required, unknown members refused, values checked for type and format.
 *
 * @param path the section's JSON path, for error messages (default `nvidia`).
 * @throws PolicyError `invalid-policy` naming the offending member's path.
 * @example
 * const rules = parseNvidiaRules(JSON.parse(text).nvidia);
 */
export function parseNvidiaRules(value: unknown, path = "nvidia"): NvidiaRules {
  const o = object(value, path, MEMBERS);
  const at = (name: string) => `${path}.${name}`;
  let measurements: NvidiaRules["measurements"];
  if (o.measurements === ANY || o.measurements === "from-rim") measurements = o.measurements;
  else {
    const m = plainObject(o.measurements, at("measurements"));
    const names = Object.keys(m);
    if (names.length === 0) fail(at("measurements"), 'must name at least one index, or be "any" or "from-rim"');
    if (names.length > 254) fail(at("measurements"), "names more than 254 indices");
    const map = new Map<number, NvidiaDigestSpec>();
    for (const name of names) {
      const p = `${at("measurements")}["${name.slice(0, 16)}"]`;
      if (!/^[1-9][0-9]{0,2}$/.test(name) || Number(name) > 254) fail(p, "is not a measurement index (decimal 1..254)");
      map.set(Number(name), hexSpec(m[name], p, 48));
    }
    measurements = map;
  }
  const nonceBinding = o.nonceBinding;
  if (nonceBinding !== "bound" && nonceBinding !== ANY) fail(at("nonceBinding"), 'must be "bound" or "any"');
  const ppcieMode = o.ppcieMode;
  if (ppcieMode !== "off" && ppcieMode !== "on" && ppcieMode !== ANY)
    fail(at("ppcieMode"), 'must be "off", "on" or "any"');
  return Object.freeze({
    measurements,
    driverVersion: versionRule(o.driverVersion, at("driverVersion"), DRIVER_VERSION, "550.90.07"),
    vbiosVersion: versionRule(o.vbiosVersion, at("vbiosVersion"), VBIOS_VERSION, "96.00.9F.00.01"),
    nonceBinding,
    ppcieMode,
  });
}

/** The Veritee session the CPU evidence was verified for. */
export interface NvidiaSessionInput {
  readonly clientNonce: Uint8Array;
  readonly keySetDigest: Uint8Array;
}

/** Inputs of {@link evaluateNvidia} besides the rules and the report. */
export interface EvaluateNvidiaOptions {
  /** Reference values for `measurements: "from-rim"` (e.g. the driver and the VBIOS RIM), signatures verified by `verifyGpuRim`. */
  readonly rims?: readonly VerifiedGpuRim[];
  /** The session the CPU evidence answers, for `nonceBinding: "bound"`. */
  readonly session?: NvidiaSessionInput;
  /** The section's JSON path, prefixed to every claim's path (default `nvidia`). */
  readonly path?: string;
  /** The time the evaluation is made for (default: the report's verification time). */
  readonly now?: Date;
}

/** Component-wise comparison of dotted versions; `radix` 10 for drivers, 16 for VBIOS. */
function compareVersions(a: string, b: string, radix: number): number {
  const x = a.split(".").map((p) => Number.parseInt(p, radix));
  const y = b.split(".").map((p) => Number.parseInt(p, radix));
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Every claim of `rules` against a verified GPU report, passed or failed,
 * in this order: measurements (by index), driverVersion, vbiosVersion,
 * nonceBinding, ppcieMode. Codes: `product-mismatch` (a RIM for another
 * chip), `measurement-mismatch`,
 * `measurement-missing`, `measurement-unexpected` (measurements and
 * versions), `tcb-too-old` (a version below the minimum),
 * `report-data-mismatch` (nonce binding), `tee-attribute-not-allowed`
 * (PPCIe mode).
 *
 * @throws TypeError for evidence that is not a `VerifiedGpuReport`.
 */
export function nvidiaClaims(
  rules: NvidiaRules,
  verified: VerifiedGpuReport,
  options: EvaluateNvidiaOptions = {},
): readonly Claim[] {
  // Policy accepts only what the verifier made: never decoded-but-unverified evidence.
  if (!VerifiedGpuReport.is(verified))
    throw new TypeError("nvidiaClaims takes a VerifiedGpuReport (from verifyGpuReport)");
  const prefix = options.path ?? "nvidia";
  const claims = new ClaimList(prefix);
  const measured = new Map([...verified.measurements].map(([index, block]) => [index, toHex(block.value)] as const));

  const m = rules.measurements;
  if (m === ANY) {
    claims.add(
      "measurements",
      "GPU measurements",
      ANY,
      `${verified.measurements.size} blocks`,
      true,
      "measurement-mismatch",
    );
  } else if (m === "from-rim") {
    rimClaims(verified, options.rims ?? [], claims, measured);
  } else {
    claims.allowList({
      listed: m,
      reported: measured,
      member: (index) => `measurements["${index}"]`,
      name: (index) => `GPU measurement ${index}`,
      unlisted: "not listed",
      absent: "not reported",
    });
  }

  versionClaim("driverVersion", "GPU driver version", rules.driverVersion, verified.driverVersion, 10, claims);
  versionClaim("vbiosVersion", "GPU VBIOS version", rules.vbiosVersion, verified.vbiosVersion, 16, claims);

  const bound = verified.session;
  if (rules.nonceBinding === ANY) {
    claims.add("nonceBinding", "GPU nonce binding", ANY, bound ? "bound" : "raw nonce", true, "report-data-mismatch");
  } else {
    const s = options.session;
    const ok =
      bound !== undefined &&
      s !== undefined &&
      bytesEqual(bound.clientNonce, s.clientNonce) &&
      bytesEqual(bound.keySetDigest, s.keySetDigest);
    claims.add(
      "nonceBinding",
      "GPU nonce binding",
      s === undefined ? "bound (no session was given)" : "bound to the CPU evidence's session",
      bound === undefined ? "raw nonce" : ok ? "bound to that session" : "bound to another session",
      ok,
      "report-data-mismatch",
    );
  }

  const status = verified.opaque.protectedPcieStatus;
  const mode =
    status === PPCIE_ON
      ? "on"
      : status === PPCIE_OFF
        ? "off"
        : status === undefined
          ? "not reported"
          : `0x${status.toString(16)}`;
  claims.add(
    "ppcieMode",
    "GPU protected PCIe mode",
    rules.ppcieMode,
    mode,
    rules.ppcieMode === ANY || rules.ppcieMode === mode,
    "tee-attribute-not-allowed",
  );
  return claims.claims;
}

function versionClaim(
  member: string,
  name: string,
  rule: NvidiaVersionRule,
  actual: string | undefined,
  radix: number,
  claims: ClaimList,
): void {
  if (rule === ANY) {
    claims.add(member, name, ANY, actual ?? "not reported", true, "measurement-mismatch");
  } else if (actual === undefined) {
    claims.add(
      member,
      name,
      "allowed" in rule ? rule.allowed.join(", ") : `at least ${rule.minimum}`,
      "not reported",
      false,
      "measurement-missing",
    );
  } else if ("allowed" in rule) {
    claims.match(member, name, rule.allowed, actual, "measurement-mismatch");
  } else {
    claims.add(
      member,
      name,
      `at least ${rule.minimum}`,
      actual,
      compareVersions(actual, rule.minimum, radix) >= 0,
      "tcb-too-old",
    );
  }
}

function rimClaims(
  verified: VerifiedGpuReport,
  verifiedRims: readonly VerifiedGpuRim[],
  claims: ClaimList,
  measured: ReadonlyMap<number, string>,
): void {
  // Reference values count only from RIMs whose signature and chain were verified.
  if (!verifiedRims.every((r) => VerifiedGpuRim.is(r)))
    throw new TypeError("rims must be VerifiedGpuRim values (verifyGpuRim)");
  const rims = verifiedRims.map((r) => r.rim);
  if (rims.length === 0) {
    claims.add("measurements", "GPU measurements", "from-rim", "no RIM was given", false, "measurement-missing");
    return;
  }
  const reported = [verified.driverVersion, verified.vbiosVersion]
    .filter((v) => v !== undefined)
    .map((v) => v.toUpperCase());
  const owner = new Map<number, (typeof rims)[number]>();
  const chip = verified.chip;
  rims.forEach((rim, i) => {
    // A RIM describes one product's firmware: reference values of another chip prove nothing about this GPU.
    claims.add(
      `measurements.rim[${i}]`,
      `GPU RIM ${i} product`,
      rim.product,
      chip ?? "no chip named by the device certificate",
      chip !== undefined && chip === rim.product,
      "product-mismatch",
    );
    claims.add(
      `measurements.rim[${i}]`,
      `GPU RIM ${i} version`,
      rim.version,
      reported.join(", ") || "no version reported",
      reported.includes(rim.version.toUpperCase()),
      "measurement-mismatch",
    );
    for (const [index, ref] of rim.measurements) {
      const member = `measurements["${index}"]`;
      if (owner.has(index)) {
        claims.add(
          member,
          `GPU measurement ${index}`,
          "one RIM per index",
          "claimed by two RIMs",
          false,
          "measurement-mismatch",
        );
        continue;
      }
      owner.set(index, rim);
      const actual = measured.get(index);
      const expected = describeAlternatives(ref.alternatives);
      if (actual === undefined)
        claims.add(member, `GPU measurement ${index}`, expected, "not reported", false, "measurement-missing");
      else claims.match(member, `GPU measurement ${index}`, ref.alternatives, actual, "measurement-mismatch");
    }
  });
}

/**
 * Evaluate a verified GPU report against validated rules: every claim of
 * {@link nvidiaClaims}, and an appraisal when all pass.
 *
 * @throws PolicyError with the first failing claim's code; its `appraisal`
 *   lists every claim. TypeError for evidence that is not a `VerifiedGpuReport`.
 * @example
 * const verified = await verifyGpuReport({ report, certChain, session, at });
 * const appraisal = evaluateNvidia(parseNvidiaRules(section), verified, { rims, session });
 */
export function evaluateNvidia(
  rules: NvidiaRules,
  verified: VerifiedGpuReport,
  options: EvaluateNvidiaOptions = {},
): Appraisal {
  return appraiseSection(nvidiaClaims(rules, verified, options), options.now ?? verified.verifiedAt);
}
