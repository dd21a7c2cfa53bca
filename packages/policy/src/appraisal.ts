/**
 * The result of evaluating verified evidence against a policy: every claim
 * checked, passed or failed, with expected and actual values, so a report
 * can show the whole picture and not only the first failure.
 */
import { DEVELOPMENT_POLICY_WARNING } from "./document.js";
import type { PolicyCode } from "./errors.js";
import type { InsecureReason } from "./insecure.js";

/** One check of the policy against the evidence. */
export interface Claim {
  /**
   * The policy field the claim checks, as a JSON path (e.g. `launch.codeBundle`,
   * `boot.sha256["3"]`, `launch.models["stories260K"]`), or `development` for the
   * development-flag check.
   */
  readonly path: string;
  /** A readable name, e.g. "code bundle", "boot PCR 3", "model stories260K". */
  readonly name: string;
  /** What the policy allows: a digest, "one of …", "any", a bound. */
  readonly expected: string;
  /** What the verified evidence shows. */
  readonly actual: string;
  readonly ok: boolean;
  /** Why the claim failed; `null` when it passed. */
  readonly code: PolicyCode | null;
}

/** Every claim checked and the overall verdict. */
export interface Appraisal {
  /** `"pass"` only when every claim passed. */
  readonly verdict: "pass" | "fail";
  /**
   * The result is INSECURE: the policy is a development policy (see
   * {@link DEVELOPMENT_POLICY_WARNING}) or skips a security-relevant check
   * with `"any"`. True exactly when `insecureReasons` is not empty.
   */
  readonly insecure: boolean;
  /** Each reason, in policy order: `development`, then every security-relevant `"any"` rule (`insecure.ts`). */
  readonly insecureReasons: readonly InsecureReason[];
  /** The evidence shows a development TPM (swtpm, its local CA, or no measured boot). */
  readonly developmentServer: boolean;
  /** The INSECURE label, set on every insecure appraisal (the development warning under a development policy); `null` otherwise. */
  readonly warning: string | null;
  /** Every claim, in evaluation order. */
  readonly claims: readonly Claim[];
  /** The time the evaluation was made for (ISO 8601). */
  readonly evaluatedAt: string;
}

/** Options of {@link formatAppraisal}. */
export interface FormatAppraisalOptions {
  /** Show expected and actual for passed claims too (default: failed claims only). */
  readonly verbose?: boolean;
}

/**
 * A readable multi-line report: the INSECURE label first for an insecure
 * appraisal, with one `- path: reason` line per reason, then one line per claim with ✓ or ✗, and expected and actual
 * values under every failed claim (and every claim with `verbose`).
 *
 * @example
 * process.stdout.write(formatAppraisal(appraisal));
 * // ✓ code bundle  0153ea…
 */
export function formatAppraisal(appraisal: Appraisal, options: FormatAppraisalOptions = {}): string {
  const lines: string[] = [];
  if (appraisal.insecure) {
    lines.push(`⚠ ${appraisal.warning ?? DEVELOPMENT_POLICY_WARNING}`);
    for (const r of appraisal.insecureReasons) lines.push(`  - ${r.path}: ${r.reason}`);
  }
  const width = Math.min(32, Math.max(0, ...appraisal.claims.map((c) => c.name.length)));
  for (const claim of appraisal.claims) {
    const mark = claim.ok ? "✓" : "✗";
    if (!claim.ok || options.verbose) {
      lines.push(`${mark} ${claim.name}${claim.ok ? "" : ` (${claim.code})`}`);
      lines.push(`    expected ${claim.expected}`);
      lines.push(`    actual   ${claim.actual}`);
    } else {
      lines.push(`${mark} ${claim.name.padEnd(width)}  ${claim.actual}`);
    }
  }
  const failed = appraisal.claims.filter((c) => !c.ok).length;
  lines.push(
    appraisal.verdict === "pass"
      ? `PASS: ${appraisal.claims.length} claims checked${appraisal.insecure ? ` (${insecureSummary(appraisal)})` : ""}`
      : `FAIL: ${failed} of ${appraisal.claims.length} claims failed`,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * A short label for an insecure appraisal, e.g. `INSECURE: development policy`
 * or `INSECURE: trust.akProof, launch.models accept anything`; empty when secure.
 */
export function insecureSummary(appraisal: Pick<Appraisal, "insecureReasons">): string {
  const reasons = appraisal.insecureReasons;
  if (reasons.length === 0) return "";
  const skipped = reasons.filter((r) => r.path !== "development").map((r) => r.path);
  const parts = [
    ...(reasons.some((r) => r.path === "development") ? ["development policy"] : []),
    ...(skipped.length > 0 ? [`${skipped.join(", ")} accept${skipped.length === 1 ? "s" : ""} anything`] : []),
  ];
  return `INSECURE: ${parts.join("; ")}`;
}
