/**
 * The appraisal of one TEE section's claims on its own (`evaluateSnp`,
 * `evaluateTdx`, `evaluateNvidia`): every claim recorded, the first failure
 * thrown as a PolicyError carrying the whole appraisal.
 */
import type { Appraisal, Claim } from "../appraisal.js";
import { PolicyError } from "../errors.js";
import { insecureClaims, insecureWarning } from "../insecure.js";

/**
 * An appraisal of `claims` evaluated at `evaluatedAt`.
 *
 * @throws PolicyError with the first failing claim's code; its `appraisal` lists every claim.
 */
export function appraiseSection(claims: readonly Claim[], evaluatedAt: Date): Appraisal {
  const failed = claims.find((c) => !c.ok);
  const reasons = insecureClaims(claims);
  const appraisal: Appraisal = Object.freeze({
    verdict: failed ? "fail" : "pass",
    // A section on its own knows its claims only: each one that expected "any" is a skipped check.
    insecure: reasons.length > 0,
    insecureReasons: reasons,
    developmentServer: false,
    warning: reasons.length > 0 ? insecureWarning(reasons) : null,
    claims,
    evaluatedAt: evaluatedAt.toISOString(),
  });
  if (failed) {
    throw new PolicyError(failed.code!, `${failed.name}: expected ${failed.expected}, actual ${failed.actual}`, {
      appraisal,
      claim: failed,
    });
  }
  return appraisal;
}
