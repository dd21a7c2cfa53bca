/**
 * What a client takes from a policy before and after verification: the trust
 * anchors and PCR selection to verify with, and the channel modes it may use.
 */
import { DEFAULT_BOOT_PCRS } from "@veritee/evidence";
import { ANY, type ChannelMode, type Policy } from "./document.js";
import { PolicyError } from "./errors.js";
import { parsePolicy, trustMaterial } from "./validate.js";

/** The `verifyAttestationDocument` options a policy determines. */
export interface PolicyVerificationInputs {
  /** The policy's EK roots, DER. */
  readonly ekRoots: readonly Uint8Array[];
  /** The policy's EK intermediates, DER (path-building hints). */
  readonly ekIntermediates: readonly Uint8Array[];
  /** The application PCR. */
  readonly appPcr: number;
  /** The boot PCRs the quote must cover: PCRs 0–7 and any other PCR the policy lists. */
  readonly bootPcrs: readonly number[];
}

/**
 * The verification options a policy determines; spread them into
 * `verifyAttestationDocument`'s options beside the nonce and the time.
 *
 * @throws PolicyError `invalid-policy` for a policy that does not validate.
 * @example
 * const verified = await verifyAttestationDocument(doc, { nonce, at: new Date(), ...verificationInputs(policy) });
 */
export function verificationInputs(policy: Policy): PolicyVerificationInputs {
  const p = parsePolicy(policy);
  const trust = trustMaterial(p);
  const boot = p.boot.sha256;
  return Object.freeze({
    ekRoots: Object.freeze(trust.roots.map((r) => r.der.slice())),
    ekIntermediates: Object.freeze(trust.intermediates.map((d) => d.slice())),
    appPcr: p.launch.pcr,
    // Always at least the firmware PCRs, so a policy that forgets one fails on it (measurement-unexpected)
    // instead of never seeing it.
    bootPcrs: Object.freeze(
      [...new Set([...DEFAULT_BOOT_PCRS, ...(boot === ANY ? [] : Object.keys(boot).map(Number))])].sort(
        (a, b) => a - b,
      ),
    ),
  });
}

/**
 * Check that the policy allows a channel mode before using it.
 *
 * @throws PolicyError `channel-mode-not-allowed`; `invalid-policy` for a policy that does not validate.
 * @example
 * assertChannelModeAllowed(policy, "sealed");
 */
export function assertChannelModeAllowed(policy: Policy, mode: ChannelMode): void {
  const p = parsePolicy(policy);
  if (!p.channel.modes.includes(mode)) {
    throw new PolicyError(
      "channel-mode-not-allowed",
      `channel mode ${JSON.stringify(String(mode))} is not allowed (the policy allows ${p.channel.modes.join(", ")})`,
    );
  }
}
