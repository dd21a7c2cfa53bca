/**
 * The EK public area a Veritee attestation document may carry: a TCG
 * default EK, template L-1 (RSA 2048) or L-2 (ECC NIST P-256) of the TCG EK
 * Credential Profile 2.5, Annex B.3. The EK certificate certifies only the
 * public key; the rest of the area (attributes, policy, symmetric algorithm)
 * decides how credential activation works, so it is checked against the
 * template here, leaving no part of the area unverified.
 */
import { bytesEqual, TCG_EK_ATTRIBUTES, TCG_EK_POLICY_SHA256 } from "@veritee/core";
import { VerificationError } from "../errors.js";
import type { TpmtPublic } from "../tpm/public.js";

/**
 * Check that `ek` is a TCG default EK (L-1 or L-2).
 *
 * @throws VerificationError `ek-attributes` otherwise.
 */
export function checkDefaultEk(ek: TpmtPublic): void {
  const fail = (detail: string): never => {
    throw new VerificationError("ek-attributes", `the EK is not a TCG default EK: ${detail}`);
  };
  if (ek.nameAlg !== "sha256") fail("nameAlg");
  if (ek.objectAttributes !== TCG_EK_ATTRIBUTES) fail("attributes");
  if (!bytesEqual(ek.authPolicy, TCG_EK_POLICY_SHA256)) fail("authPolicy");
  if (ek.symmetric.algorithm !== "aes" || ek.symmetric.keyBits !== 128 || ek.symmetric.mode !== "cfb") {
    fail("symmetric");
  }
  if (ek.scheme.scheme !== "null") fail("scheme");
  if (ek.type === "rsa") {
    if (ek.keyBits !== 2048 || (ek.exponent !== 0 && ek.exponent !== 65537)) fail("RSA parameters");
  } else if (ek.curve !== "p256" || ek.kdf.scheme !== "null") {
    fail("ECC parameters");
  }
}
