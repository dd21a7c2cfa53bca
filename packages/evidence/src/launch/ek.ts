/**
 * The EK public area a Veritee attestation document may carry: a TCG
 * default EK, template L-1 (RSA 2048) or L-2 (ECC NIST P-256) of the TCG EK
 * Credential Profile 2.5, Annex B.3. The EK certificate certifies only the
 * public key; the rest of the area (attributes, policy, symmetric algorithm)
 * decides how credential activation works, so it is checked against the
 * template here, leaving no part of the area unverified.
 */
import { bytesEqual, fromHex, TPMA_OBJECT } from "@veritee/core";
import { VerificationError } from "../errors.js";
import type { TpmtPublic } from "../tpm/public.js";

/** PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256, the authPolicy of templates L-1 and L-2 (Annex B.3, "PolicyA"). */
const EK_POLICY_A_SHA256 = fromHex("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa");

/** fixedTPM, fixedParent, sensitiveDataOrigin, adminWithPolicy, restricted, decrypt: 0x000300b2. */
const EK_ATTRIBUTES =
  TPMA_OBJECT.fixedTPM |
  TPMA_OBJECT.fixedParent |
  TPMA_OBJECT.sensitiveDataOrigin |
  TPMA_OBJECT.adminWithPolicy |
  TPMA_OBJECT.restricted |
  TPMA_OBJECT.decrypt;

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
  if (ek.objectAttributes !== EK_ATTRIBUTES) fail("attributes");
  if (!bytesEqual(ek.authPolicy, EK_POLICY_A_SHA256)) fail("authPolicy");
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
