/**
 * The appraisal of one TEE section's claims on its own (`evaluateSnp`,
 * `evaluateTdx`, `evaluateNvidia`): every claim recorded, the first failure
 * thrown as a PolicyError carrying the whole appraisal.
 */
import type { Appraisal, Claim } from "../appraisal.js";
import { PolicyError } from "../errors.js";

/**
 * An appraisal of `claims` evaluated at `evaluatedAt`.
 *
 * @throws PolicyError with the first failing claim's code; its `appraisal` lists every claim.
 */
export function appraiseSection(claims: readonly Claim[], evaluatedAt: Date): Appraisal {
  const failed = claims.find((c) => !c.ok);
  const appraisal: Appraisal = Object.freeze({
    verdict: failed ? "fail" : "pass",
    insecure: false,
    developmentServer: false,
    warning: null,
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
