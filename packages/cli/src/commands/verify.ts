/**
 * `veritee verify URL --policy FILE [--json]`: attest a server and print
 * every check — the evidence steps, each policy claim with expected and
 * actual values, and the channel — with ✓ or ✗. Exits 0 only when all
 * passed; otherwise with the failing error class's code (malformed 10,
 * verification 11, policy 12, channel 16, client 17 — a server that does not
 * answer within `--timeout` included). A development policy
 * is labelled INSECURE on the first line.
 */

import { ClientError, type ConnectStep, connect } from "@veritee/client/node";
import { MalformedError, toHex, VeriteeError } from "@veritee/core";
import { type VerificationCode, VerificationError, type VerifiedAttestation } from "@veritee/evidence";
import {
  type Appraisal,
  type Claim,
  DEVELOPMENT_POLICY_WARNING,
  type InsecureReason,
  insecureReasons,
  insecureSummary,
  insecureWarning,
  PolicyError,
} from "@veritee/policy";
import type { Command } from "commander";
import { checkServerUrl, insecureBanner, loadPolicyFile, TIMEOUT_HELP, timeoutsOption } from "../client-session.js";
import { out } from "../io.js";

/** The evidence checks, in the order the verifier runs them (docs/ATTESTATION.md, Verification). */
const EVIDENCE_STEPS = [
  { id: "document", name: "attestation document for a fresh 32-byte nonce" },
  { id: "ek", name: "EK certificate chains to a policy root and certifies the TPM's EK" },
  { id: "quote", name: "quote signed by the AK over the nonce and the key set, covering the PCRs" },
  { id: "launch", name: "launch log sealed, complete, bound to the key set, replays to the application PCR" },
  { id: "boot", name: "boot event log replays to the boot PCRs" },
  {
    id: "platform",
    name: "confidential-VM and GPU reports (SEV-SNP, TDX, Azure vTPM, NVIDIA) verified and bound to the nonce and key set",
  },
  { id: "activation", name: "AK resident in the certified TPM (credential activation)" },
] as const;
type EvidenceStep = (typeof EVIDENCE_STEPS)[number]["id"];

/**
 * The verification step each VerificationError code of a TPM attestation
 * document belongs to. Codes of confidential-VM and GPU evidence (SEV-SNP,
 * TDX, NVIDIA, CRLs, collateral) are reported by `veritee evidence verify`,
 * not in a document's steps; a document failing with one is a document failure.
 */
const STEP_OF_CODE: Readonly<Partial<Record<VerificationCode, EvidenceStep>>> = {
  "ek-certificate-missing": "ek",
  "cert-signature-invalid": "ek",
  "cert-expired": "ek",
  "cert-not-yet-valid": "ek",
  "cert-untrusted-root": "ek",
  "cert-not-ca": "ek",
  "cert-key-usage": "ek",
  "cert-eku-missing": "ek",
  "cert-path-too-long": "ek",
  "cert-unknown-critical-extension": "ek",
  "key-mismatch": "ek",
  "ek-attributes": "ek",
  "name-mismatch": "quote",
  "launch-log-unsealed": "launch",
  "launch-log-incomplete": "launch",
  "key-set-mismatch": "launch",
  "signature-invalid": "quote",
  "signature-scheme-mismatch": "quote",
  "unsupported-algorithm": "quote",
  "ak-attributes": "quote",
  "attest-type": "quote",
  "nonce-mismatch": "quote",
  "pcr-digest-mismatch": "quote",
  "pcr-values-missing": "quote",
  "pcr-values-mismatch": "quote",
  "launch-log-mismatch": "launch",
  "eventlog-replay-mismatch": "boot",
  "eventlog-bank-missing": "boot",
  "eventlog-data-mismatch": "boot",
  "credential-mismatch": "activation",
  "platform-binding-mismatch": "platform",
  "platform-collateral-missing": "platform",
};

/** Vendor evidence codes (SEV-SNP, TDX, NVIDIA, their CRLs and collateral) come from the platform step. */
const PLATFORM_CODE = /^(snp|tdx|nvidia|azure|crl|collateral)-|^cert-revoked$/;

function stepOf(code: VerificationCode): EvidenceStep {
  return STEP_OF_CODE[code] ?? (PLATFORM_CODE.test(code) ? "platform" : "document");
}

type Status = "pass" | "fail" | "skipped";

interface StepReport {
  readonly id: string;
  readonly name: string;
  readonly status: Status;
  readonly detail: string | null;
}

/** The machine-readable report (`--json`). */
export interface VerifyReport {
  readonly url: string;
  readonly verdict: "pass" | "fail";
  readonly insecure: boolean;
  /** Why the result is insecure (the policy's `development` and every security-relevant "any" rule); empty when secure. */
  readonly insecureReasons: readonly InsecureReason[];
  readonly warning: string | null;
  readonly evidence: readonly StepReport[];
  readonly appraisal: Appraisal | null;
  readonly channel: { readonly sealed: boolean; readonly attestedTls: boolean } | null;
  readonly error: {
    readonly kind: string;
    readonly code: string;
    readonly message: string;
    readonly claim: Claim | null;
  } | null;
}

/** `veritee verify`. */
export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description(
      "attest a Veritee server and check it against a policy: EK chain, quote over a fresh nonce, launch log, credential activation, every policy claim, the attested channel",
    )
    .argument("<url>", "the server's API root, e.g. https://host:8443/v1 (/v1 is added when missing)")
    .requiredOption("--policy <file>", "the policy document (JSON)")
    .option("--json", "print the report as JSON")
    .option("--timeout <seconds>", TIMEOUT_HELP)
    .action(async (url: string, opts: { policy: string; json?: boolean; timeout?: string }) => {
      checkServerUrl(url);
      const timeouts = timeoutsOption(opts.timeout);
      const policy = await loadPolicyFile(opts.policy);
      const text = !opts.json;
      const banner = insecureBanner(policy);
      if (text && banner !== undefined) out(banner);
      if (text) out(`verifying ${url}`);

      let verified: VerifiedAttestation | undefined;
      let resident = false;
      let appraisal: Appraisal | null = null;
      let channel: VerifyReport["channel"] = null;
      const onProgress = (step: ConnectStep) => {
        if (step.step === "verified") verified = step.attestation;
        else if (step.step === "ak-resident") {
          verified = step.attestation;
          resident = true;
        } else if (step.step === "accepted") appraisal = step.appraisal;
        else channel = { sealed: step.sealed, attestedTls: step.attestedTls };
      };
      let failure: unknown;
      try {
        const session = await connect({ baseURL: url, policy, onProgress, ...(timeouts ? { timeouts } : {}) });
        await session.close();
      } catch (error) {
        failure = error;
      }
      if (failure instanceof PolicyError && failure.appraisal) appraisal = failure.appraisal;

      const evidence = evidenceSteps(verified, resident, failure);
      const reasons = insecureReasons(policy);
      const report: VerifyReport = {
        url,
        verdict: failure === undefined ? "pass" : "fail",
        insecure: reasons.length > 0,
        insecureReasons: reasons,
        warning: policy.development ? DEVELOPMENT_POLICY_WARNING : reasons.length > 0 ? insecureWarning(reasons) : null,
        evidence,
        appraisal,
        channel,
        error: failure === undefined ? null : describe(failure),
      };
      if (opts.json) out(JSON.stringify(report, null, 2));
      else printReport(report, failure);
      if (failure !== undefined) throw failure;
    });
}

/**
 * Each evidence step's status: the steps before the failing one passed, the
 * failing one failed, later ones were not checked. A failure before any
 * evidence arrived (a channel plan the policy forbids) checks nothing.
 */
function evidenceSteps(verified: VerifiedAttestation | undefined, resident: boolean, failure: unknown): StepReport[] {
  let failedAt: EvidenceStep | undefined;
  let checked = true;
  if (failure !== undefined && verified === undefined) {
    if (failure instanceof VerificationError) failedAt = stepOf(failure.code);
    else if (failure instanceof MalformedError || failure instanceof ClientError) failedAt = "document";
    else checked = false;
  } else if (failure !== undefined && !resident) failedAt = "activation";
  let status: Status = checked ? "pass" : "skipped";
  return EVIDENCE_STEPS.map(({ id, name }) => {
    if (id === failedAt) {
      status = "skipped";
      return { id, name, status: "fail" as const, detail: failure instanceof Error ? failure.message : null };
    }
    const detail = status === "pass" && verified !== undefined ? evidenceDetail(id, verified) : null;
    return { id, name, status, detail };
  });
}

function evidenceDetail(id: EvidenceStep, v: VerifiedAttestation): string | null {
  switch (id) {
    case "document":
      return `key set ${toHex(v.keySetDigest)}`;
    case "ek":
      return `root "${v.ekChain.anchor.subject.text}"`;
    case "quote":
      return `AK ${toHex(v.akName)}`;
    case "launch":
      return `${v.launch.log.events.length} events → PCR ${v.appPcr} = ${toHex(v.launch.pcrValue)}`;
    case "boot":
      return v.bootEventLog === undefined ? "no boot event log (nothing to replay)" : "replayed";
    case "platform":
      return platformDetail(v);
    case "activation":
      return v.akResidency;
  }
}

function platformDetail(v: VerifiedAttestation): string {
  const { sevSnp, tdx, gpus, azureVtpm } = v.platform;
  const parts: string[] = [];
  if (azureVtpm) {
    const hw = azureVtpm.hardware;
    const measurement = hw.kind === "snp" ? ` measurement ${toHex(hw.snp.report.measurement)}` : "";
    parts.push(`Azure vTPM (HCL report, ${azureVtpm.platform.toUpperCase()}${measurement}) naming the quoting AK`);
  }
  if (sevSnp) parts.push(`SEV-SNP (${sevSnp.product}) measurement ${toHex(sevSnp.report.measurement)}`);
  if (tdx) parts.push(`TDX MRTD ${toHex(tdx.quote.body.mrTd)}`);
  if (gpus.length > 0) parts.push(`${gpus.length} NVIDIA GPU report${gpus.length === 1 ? "" : "s"}`);
  return parts.length === 0 ? "none presented (TPM evidence only)" : parts.join("; ");
}

function describe(error: unknown): NonNullable<VerifyReport["error"]> {
  if (error instanceof VeriteeError) {
    return {
      kind: error.kind,
      code: error.code,
      message: error.message,
      claim: error instanceof PolicyError ? (error.claim ?? null) : null,
    };
  }
  return {
    kind: "internal",
    code: "internal",
    message: error instanceof Error ? error.message : String(error),
    claim: null,
  };
}

const MARK: Readonly<Record<Status, string>> = { pass: "✓", fail: "✗", skipped: "·" };

function printReport(report: VerifyReport, failure: unknown): void {
  out("evidence");
  for (const step of report.evidence) {
    out(`  ${MARK[step.status]} ${step.name}${step.status === "skipped" ? " (not checked)" : ""}`);
    if (step.detail !== null) out(`      ${step.detail}`);
  }
  out("policy");
  if (report.appraisal === null) out("  · not evaluated");
  else {
    for (const claim of report.appraisal.claims) {
      out(`  ${claim.ok ? "✓" : "✗"} ${claim.name}${claim.ok ? "" : ` (${claim.code})`}`);
      out(`      expected ${claim.expected}`);
      out(`      actual   ${claim.actual}`);
    }
  }
  out("channel");
  if (report.channel === null) {
    const failedHere = failure instanceof VeriteeError && failure.kind === "channel";
    out(`  ${failedHere ? "✗" : "·"} ${failedHere ? (failure as Error).message : "not opened"}`);
  } else {
    out(
      `  ${report.channel.sealed ? "✓" : "·"} sealed bodies (HPKE to the attested key)${report.channel.sealed ? "" : ": off"}`,
    );
    out(
      `  ${report.channel.attestedTls ? "✓" : "·"} attested TLS (pinned to the attested SPKI)${report.channel.attestedTls ? "" : ": not used"}`,
    );
  }
  if (report.verdict === "pass") {
    out(`PASS${report.insecure ? ` — ${insecureSummary({ insecureReasons: report.insecureReasons })}` : ""}`);
  } else {
    const e = report.error!;
    out(`FAIL — ${e.kind} error ${e.code}`);
  }
}
