/**
 * Public-area templates (TPMT_PUBLIC, TPM 2.0 Part 2 §12.2.4) for the keys
 * the client creates: the TCG default EKs and restricted signing AKs.
 */
import { ByteWriter, TCG_EK_ATTRIBUTES, TCG_EK_POLICY_SHA256, TPM_ALG, TPM_ECC, TPMA_OBJECT } from "@veritee/core";

/** The EK kinds with a TCG default ("low range") template. */
export type EkKind = "rsa2048" | "eccP256";

/** The attestation-key kinds the client creates. */
export type AkKind = "ecc-p256" | "rsa-2048";

/** Signing schemes for an AK; ECC keys take ECDSA, RSA keys RSASSA or RSAPSS, each with SHA-256. */
export type AkScheme = "ecdsa-sha256" | "rsassa-sha256" | "rsapss-sha256";

/**
 * The EK's authPolicy in templates L-1 and L-2: PolicySecret(TPM_RH_ENDORSEMENT)
 * with SHA-256 (TCG EK Credential Profile 2.5, Annex B.3, "PolicyA").
 */
export const EK_POLICY_SHA256: Uint8Array = TCG_EK_POLICY_SHA256;

/** EK attributes (0x000300b2): shared with the verifier, in core. */
const EK_ATTRIBUTES = TCG_EK_ATTRIBUTES;

/** AK attributes: fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, restricted, sign (0x00050072). */
const AK_ATTRIBUTES =
  TPMA_OBJECT.fixedTPM |
  TPMA_OBJECT.fixedParent |
  TPMA_OBJECT.sensitiveDataOrigin |
  TPMA_OBJECT.userWithAuth |
  TPMA_OBJECT.restricted |
  TPMA_OBJECT.sign;

/**
 * The TPMT_PUBLIC of a TCG default EK: template L-1 (RSA 2048, AES-128-CFB,
 * 256-byte zero unique) or L-2 (ECC NIST P-256, AES-128-CFB, 32-byte zero x
 * and y) from the TCG EK Credential Profile 2.5, Annex B.3. CreatePrimary on
 * such a template re-derives the same key the manufacturer certified.
 */
export function ekTemplate(kind: EkKind): Uint8Array {
  const w = new ByteWriter();
  if (kind === "rsa2048") {
    w.u16(TPM_ALG.RSA).u16(TPM_ALG.SHA256).u32(EK_ATTRIBUTES).tpm2b(EK_POLICY_SHA256);
    w.u16(TPM_ALG.AES).u16(128).u16(TPM_ALG.CFB); // symmetric
    w.u16(TPM_ALG.NULL); // scheme
    w.u16(2048).u32(0); // keyBits, exponent (0 = 65537)
    w.tpm2b(new Uint8Array(256)); // unique
  } else {
    w.u16(TPM_ALG.ECC).u16(TPM_ALG.SHA256).u32(EK_ATTRIBUTES).tpm2b(EK_POLICY_SHA256);
    w.u16(TPM_ALG.AES).u16(128).u16(TPM_ALG.CFB); // symmetric
    w.u16(TPM_ALG.NULL); // scheme
    w.u16(TPM_ECC.NIST_P256);
    w.u16(TPM_ALG.NULL); // kdf
    w.tpm2b(new Uint8Array(32)).tpm2b(new Uint8Array(32)); // unique x, y
  }
  return w.finish();
}

/**
 * The TPMT_PUBLIC of a restricted signing attestation key (TPM 2.0 Part 1
 * §25.3: a restricted signing key signs only TPM-generated structures such as
 * quotes). No symmetric algorithm, an empty authPolicy, an empty unique.
 *
 * @throws RangeError for a scheme that does not fit the key kind.
 */
export function akTemplate(kind: AkKind, scheme?: AkScheme): Uint8Array {
  const w = new ByteWriter();
  if (kind === "ecc-p256") {
    const s = scheme ?? "ecdsa-sha256";
    if (s !== "ecdsa-sha256") throw new RangeError("an ECC AK signs with ecdsa-sha256");
    w.u16(TPM_ALG.ECC).u16(TPM_ALG.SHA256).u32(AK_ATTRIBUTES).u16(0);
    w.u16(TPM_ALG.NULL); // symmetric
    w.u16(TPM_ALG.ECDSA).u16(TPM_ALG.SHA256);
    w.u16(TPM_ECC.NIST_P256);
    w.u16(TPM_ALG.NULL); // kdf
    w.u16(0).u16(0); // unique x, y
  } else {
    const s = scheme ?? "rsassa-sha256";
    if (s !== "rsassa-sha256" && s !== "rsapss-sha256") {
      throw new RangeError("an RSA AK signs with rsassa-sha256 or rsapss-sha256");
    }
    w.u16(TPM_ALG.RSA).u16(TPM_ALG.SHA256).u32(AK_ATTRIBUTES).u16(0);
    w.u16(TPM_ALG.NULL); // symmetric
    w.u16(s === "rsassa-sha256" ? TPM_ALG.RSASSA : TPM_ALG.RSAPSS).u16(TPM_ALG.SHA256);
    w.u16(2048).u32(0); // keyBits, exponent
    w.u16(0); // unique
  }
  return w.finish();
}
