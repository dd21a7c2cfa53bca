import { VeriteeError } from "@veritee/core";
import type { Appraisal, Claim } from "./appraisal.js";

/**
 * Why a policy refused: either the policy document itself is not valid
 * (`invalid-policy`, with the JSON path of the offending field), or verified
 * evidence is not what the policy allows (every other code, with the full
 * appraisal). A closed union, so callers can switch on `code`.
 */
export type PolicyCode =
  /** The policy document does not validate (`path` names the field). */
  | "invalid-policy"
  /** The server runs on a development TPM (swtpm, its local CA, no measured boot) and the policy is a production one. */
  | "development-policy-required"
  /** The EK certificate chains to a root the policy does not name. */
  | "untrusted-root"
  /** The AK is not proven resident in the certified TPM and the policy requires it. */
  | "ak-residency-unproven"
  /** The attestation was verified longer ago than the policy allows (or in the future). */
  | "attestation-stale"
  /** The nonce the attestation answers is shorter than the policy requires. */
  | "nonce-too-short"
  /** A measured value differs from the policy's reference value. */
  | "measurement-mismatch"
  /**
   * A production policy, and the server recorded Node.js start-up flags or
   * loader variables (NODE_OPTIONS, LD_PRELOAD, …) in its configuration, or
   * recorded none at all (a server that does not measure them).
   */
  | "loader-environment"
  /** The evidence holds a measurement (a boot PCR, an engine binary, a model) the policy does not mention. */
  | "measurement-unexpected"
  /** The policy requires a measurement (a boot PCR, a model) the evidence does not hold. */
  | "measurement-missing"
  /** A channel mode the policy does not allow was asked for. */
  | "channel-mode-not-allowed"
  /** A TEE report's REPORT_DATA (or REPORTDATA) is not the binding the verifier expected (a nonce, a key set). */
  | "report-data-mismatch"
  /** A TEE guest runs with a setting the policy forbids (debug, a migration agent, SMT, a VMPL). */
  | "tee-attribute-not-allowed"
  /** Reference values (an NVIDIA RIM) are for another product than the device that produced the evidence. */
  | "product-mismatch"
  /** A TEE's firmware TCB or the guest's SVN is below the policy's minimum. */
  | "tcb-too-old"
  /** The policy requires revocation lists to have been checked (TDX PCK and root CA CRLs) and they were not. */
  | "revocation-unchecked"
  /** The policy requires platform evidence (SEV-SNP, TDX, an NVIDIA GPU) the attestation does not carry. */
  | "platform-evidence-missing";

/**
 * A policy failure. Evaluation failures carry the whole {@link Appraisal}
 * (every claim, passed or failed) and the first failing {@link Claim}; the
 * message names that claim with its expected and actual values (digests and
 * PCR values, never user data). Validation failures carry the JSON path.
 *
 * `kind` is `"usage"` for `invalid-policy` (the user's policy file is wrong:
 * CLI exit code 2) and `"policy"` otherwise (genuine evidence the policy
 * refuses: exit code 12).
 */
export class PolicyError extends VeriteeError<PolicyCode> {
  readonly kind: "policy" | "usage";
  /** For `invalid-policy`: the JSON path of the offending field, e.g. `launch.models["stories260K"]`. */
  readonly path: string | undefined;
  /** For evaluation failures: every claim checked. */
  readonly appraisal: Appraisal | undefined;
  /** For evaluation failures: the first claim that failed. */
  readonly claim: Claim | undefined;

  constructor(
    code: PolicyCode,
    message: string,
    options?: { cause?: unknown; path?: string; appraisal?: Appraisal; claim?: Claim },
  ) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = code === "invalid-policy" ? "usage" : "policy";
    this.path = options?.path;
    this.appraisal = options?.appraisal;
    this.claim = options?.claim;
  }
}
