/**
 * What marks a development server: a software TPM with no root of trust
 * behind it. swtpm certifies its EKs with a local CA made on the same machine
 * (swtpm_localca(8): CAs named `swtpm-localca-rootca` and `swtpm-localca`),
 * writes `tpmModel=swtpm` into the EK certificate's subject alternative name
 * (TCG EK Credential Profile 2.5 §3.2.9), and has no firmware that measures
 * boot, so its boot PCRs are zero. On a real platform every PCR 0–7 holds at
 * least the firmware's EV_SEPARATOR (TCG PC Client PFP §3.3.4), never zero.
 */
import type { DecodedCertificate, VerifiedAttestation } from "@veritee/evidence";

/** swtpm_localca's CA names start with this (its root is `swtpm-localca-rootca`, the issuer `swtpm-localca`). */
const SWTPM_LOCAL_CA_PREFIX = "swtpm-localca";
const COMMON_NAME = "2.5.4.3";

/** The highest PCR the platform firmware measures into (TCG PC Client PFP §3.3.4: PCRs 0–7). */
export const FIRMWARE_PCR_MAX = 7;

/** True for a certificate whose subject is one of swtpm's local CAs. */
export function isSwtpmLocalCa(cert: DecodedCertificate): boolean {
  return cert.subject.attributes.some((a) => a.oid === COMMON_NAME && a.value.startsWith(SWTPM_LOCAL_CA_PREFIX));
}

/** True for the all-zero SHA-256 value of a PCR that nothing was extended into. */
export function isZeroDigest(hex: string): boolean {
  return /^0+$/.test(hex);
}

/**
 * The reasons a verified attestation looks like a development server, empty
 * for none: the EK certificate names TPM model `swtpm`, the EK path runs
 * through swtpm's local CA, the measured configuration says `tpm.kind`
 * `swtpm-dev`, or a quoted firmware PCR (0–7) is zero.
 */
export function developmentIndicators(verified: VerifiedAttestation): string[] {
  const reasons: string[] = [];
  if (verified.ekChain.leaf.tpmDevice?.model === "swtpm") reasons.push("the EK certificate names TPM model swtpm");
  if (verified.ekChain.path.some(isSwtpmLocalCa)) reasons.push("the EK certificate is issued by the swtpm local CA");
  const tpm = verified.launch.configuration.config.tpm;
  if (
    typeof tpm === "object" &&
    tpm !== null &&
    !Array.isArray(tpm) &&
    (tpm as { kind?: unknown }).kind === "swtpm-dev"
  ) {
    reasons.push("the measured configuration uses the development TPM (tpm.kind swtpm-dev)");
  }
  const zero = [...verified.bootPcrs]
    .filter(([index, value]) => index <= FIRMWARE_PCR_MAX && value.every((b) => b === 0))
    .map(([index]) => index);
  if (zero.length > 0)
    reasons.push(`boot PCR ${zero.join(", ")} ${zero.length === 1 ? "is" : "are"} zero (no measured boot)`);
  return reasons;
}
