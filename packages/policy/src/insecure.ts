/**
 * What makes an appraisal insecure: a development policy, or any
 * security-relevant rule that says `"any"` (docs/POLICY.md "Insecure
 * appraisals"). A policy may skip a check only by writing `"any"`; this
 * module lists each such skip so every report can show it, and names the
 * rules a production policy may skip only when `allowInsecure` says so.
 */
import type { Claim } from "./appraisal.js";
import { ANY, NONE, type PolicyDocument } from "./document.js";

/** One reason an appraisal is insecure. */
export interface InsecureReason {
  /** The policy field, as a JSON path (`development`, `trust.akProof`, `boot.sha256["3"]`, `platform.sevSnp.measurement`). */
  readonly path: string;
  /** What the rule lets through, for people. */
  readonly reason: string;
}

/**
 * Rules a non-development policy may set to `"any"` only when its
 * `allowInsecure` list names them. A closed list; each entry is a rule whose
 * skip undoes the attestation itself rather than one measurement.
 */
export const ALLOW_INSECURE_RULES = Object.freeze(["akProof"] as const);

/** A name `allowInsecure` may hold. */
export type AllowInsecureRule = (typeof ALLOW_INSECURE_RULES)[number];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function member(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** Paths of the top-level rules with their own wording; platform rules are found by walking. */
const REASONS = {
  development:
    "a development policy: a software TPM (swtpm) and its local CA may be trusted, no measured boot is required",
  akProof:
    "the AK is not proven to live in the certified TPM: a quote from any TPM passes beside a genuine EK certificate",
  boot: "any boot PCR values are accepted (no measured-boot check)",
  bootPcr: "any value of this boot PCR is accepted",
  codeBundle: "any server code is accepted",
  configuration: "any server configuration is accepted",
  runtime: "any Node.js runtime is accepted",
  engineBinaries: "any native engine files are accepted",
  engineBinary: "any digest of this engine file is accepted",
  models: "any models are accepted",
  model: "any digest of this model is accepted",
} as const;

/**
 * Whether `trust.akProof: "any"` skips the AK's binding: not when
 * `platform.azureVtpm` is required, whose verified HCL report names the
 * quoting AK (docs/ATTESTATION.md), so the AK is bound without activation.
 */
export function akProofSkipped(policy: Pick<PolicyDocument, "trust" | "platform">): boolean {
  return policy.trust.akProof === ANY && policy.platform.azureVtpm === NONE;
}

/**
 * Every reason an appraisal under `policy` is insecure, in document order:
 * `development: true`, then each security-relevant rule that is `"any"` —
 * `trust.akProof` (see {@link akProofSkipped}), `boot.sha256` or one of its
 * PCRs, `launch.codeBundle`, `launch.configuration`, `launch.runtime`,
 * `launch.engineBinaries` or one of its files, `launch.models` or one of its
 * models, and any `"any"` inside a required `platform` section (e.g.
 * `platform.sevSnp.measurement`). A `platform` kind set to `"none"` is not a
 * reason: that evidence is then not required at all, which the document says
 * plainly. Empty for a policy that skips nothing.
 *
 * @example
 * insecureReasons(policy).map((r) => r.path); // ["trust.akProof", "launch.models"]
 */
export function insecureReasons(policy: PolicyDocument): readonly InsecureReason[] {
  const reasons: InsecureReason[] = [];
  const add = (path: string, reason: string) => reasons.push(Object.freeze({ path, reason }));
  if (policy.development) add("development", REASONS.development);
  if (akProofSkipped(policy)) add("trust.akProof", REASONS.akProof);

  const boot = policy.boot.sha256;
  if (boot === ANY) add("boot.sha256", REASONS.boot);
  else {
    for (const [pcr, spec] of Object.entries(boot)) if (spec === ANY) add(member("boot.sha256", pcr), REASONS.bootPcr);
  }
  const launch = policy.launch;
  if (launch.codeBundle === ANY) add("launch.codeBundle", REASONS.codeBundle);
  if (launch.configuration === ANY) add("launch.configuration", REASONS.configuration);
  if (launch.runtime === ANY) add("launch.runtime", REASONS.runtime);
  const named = (path: string, value: typeof launch.models, all: string, one: string) => {
    if (value === ANY) add(path, all);
    else for (const [name, spec] of Object.entries(value)) if (spec === ANY) add(member(path, name), one);
  };
  named("launch.engineBinaries", launch.engineBinaries, REASONS.engineBinaries, REASONS.engineBinary);
  named("launch.models", launch.models, REASONS.models, REASONS.model);

  for (const [kind, rules] of Object.entries(policy.platform)) {
    if (rules !== NONE) walkAny(rules, `platform.${kind}`, add);
  }
  return Object.freeze(reasons);
}

/** Each `"any"` under a platform rule set, by path: TEE rule values are digests, versions, flags or nested rule sets, never free text. */
function walkAny(value: unknown, path: string, add: (path: string, reason: string) => void): void {
  if (value === ANY) add(path, "any value is accepted for this platform rule");
  else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      walkAny(v, `${path}[${i}]`, add);
    });
  } else if (typeof value === "object" && value !== null) {
    for (const [key, v] of Object.entries(value)) walkAny(v, member(path, key), add);
  }
}

/**
 * The reasons of a TEE section appraised on its own (`evaluateSnp` and the
 * like), where only the claims are at hand: each claim that expected `"any"`.
 */
export function insecureClaims(claims: readonly Claim[]): readonly InsecureReason[] {
  return Object.freeze(
    claims
      .filter((c) => c.expected === ANY)
      .map((c) => Object.freeze({ path: c.path, reason: `${c.name}: any value is accepted` })),
  );
}

/** The one-line label of an insecure appraisal that is not a development policy's. */
export function insecureWarning(reasons: readonly InsecureReason[]): string {
  return `INSECURE POLICY — these security checks accept anything: ${reasons.map((r) => r.path).join(", ")}`;
}
