import { VerificationError } from "../errors.js";
import type { TpmtPublic } from "../tpm/public.js";
import { publicKeyJwk } from "../tpm/public-key.js";
import type { CredentialProtector } from "./make-credential.js";

const CURVES = { p256: "P-256", p384: "P-384", p521: "P-521" } as const;

/**
 * The credential protector for MakeCredential from an EK's decoded public
 * area (e.g. from TPM2_ReadPublic, after matching it to the EK certificate).
 * The EK must be a restricted decryption (storage) key with an AES-CFB
 * symmetric definition: the TPM derives the credential's seed and cipher from
 * it (TPM 2.0 Part 1 §24.4, Part 3 §12.6).
 *
 * @throws VerificationError `unsupported-algorithm` for a key that cannot protect a credential.
 */
export function credentialProtectorFromPublic(ek: TpmtPublic): CredentialProtector {
  if (ek.symmetric.algorithm !== "aes" || ek.symmetric.mode !== "cfb") {
    throw new VerificationError("unsupported-algorithm", "EK symmetric definition is not AES-CFB");
  }
  const symmetric = { alg: "aes", bits: ek.symmetric.keyBits } as const;
  if (ek.type === "rsa") {
    return { kind: "rsa", publicKey: { jwk: publicKeyJwk(ek) }, nameAlg: ek.nameAlg, symmetric };
  }
  return { kind: "ecc", curve: CURVES[ek.curve], x: ek.x, y: ek.y, nameAlg: ek.nameAlg, symmetric };
}
