/**
 * TPM 2.0 constants shared by the attester (`tpm`) and the verifier
 * (`evidence`). Values from TPM 2.0 Library Part 2 (Structures), rev 1.59.
 */
import type { HashAlg } from "./crypto-types.js";
import { fromHex } from "./hex.js";

/** TPM_ALG_ID (Part 2 §6.3). */
export const TPM_ALG = {
  RSA: 0x0001,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  SM3_256: 0x0012,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  KDF1_SP800_56A: 0x0020,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CTR: 0x0040,
  OFB: 0x0041,
  CBC: 0x0042,
  CFB: 0x0043,
  ECB: 0x0044,
} as const;

/** TPM_ECC_CURVE (Part 2 §6.4). */
export const TPM_ECC = {
  NONE: 0x0000,
  NIST_P192: 0x0001,
  NIST_P224: 0x0002,
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
} as const;

/** TPM_ST structure tags (Part 2 §6.9). */
export const TPM_ST = {
  RSP_COMMAND: 0x00c4,
  NULL: 0x8000,
  NO_SESSIONS: 0x8001,
  SESSIONS: 0x8002,
  ATTEST_NV: 0x8014,
  ATTEST_COMMAND_AUDIT: 0x8015,
  ATTEST_SESSION_AUDIT: 0x8016,
  ATTEST_CERTIFY: 0x8017,
  ATTEST_QUOTE: 0x8018,
  ATTEST_TIME: 0x8019,
  ATTEST_CREATION: 0x801a,
  CREATION: 0x8021,
  VERIFIED: 0x8022,
  AUTH_SECRET: 0x8023,
  HASHCHECK: 0x8024,
  AUTH_SIGNED: 0x8025,
} as const;

/** TPM_GENERATED_VALUE: every TPMS_ATTEST the TPM signs begins with it (Part 2 §6.2). */
export const TPM_GENERATED_VALUE = 0xff544347;

/** TPMA_OBJECT bits (Part 2 §8.3). */
export const TPMA_OBJECT = {
  fixedTPM: 1 << 1,
  stClear: 1 << 2,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  encryptedDuplication: 1 << 11,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
  x509sign: 1 << 19,
} as const;

/** Bits of TPMA_OBJECT that Part 2 §8.3.2 reserves (must be zero). */
export const TPMA_OBJECT_RESERVED = 0x1 | 0x8 | (0x3 << 8) | (0xf << 12) | (0xfff << 20);

/** Permanent handles (Part 2 §7.4). */
export const TPM_RH = {
  OWNER: 0x40000001,
  NULL: 0x40000007,
  PW: 0x40000009,
  LOCKOUT: 0x4000000a,
  ENDORSEMENT: 0x4000000b,
  PLATFORM: 0x4000000c,
} as const;

/** NV indices of EK certificates and templates (TCG EK Credential Profile 2.5 §2.2.1.4). */
export const EK_NV_INDEX = {
  rsa2048Cert: 0x01c00002,
  rsa2048Nonce: 0x01c00003,
  rsa2048Template: 0x01c00004,
  eccP256Cert: 0x01c0000a,
  eccP256Nonce: 0x01c0000b,
  eccP256Template: 0x01c0000c,
  /** The "high range" RSA-2048 EK (H-1) certificate. */
  rsa2048HighCert: 0x01c00012,
  /** The "high range" ECC NIST P-256 EK (H-2) certificate. */
  eccP256HighCert: 0x01c00014,
  /** The "high range" ECC NIST P-384 EK (H-3) certificate. */
  eccP384HighCert: 0x01c00016,
} as const;

const HASH_BY_ALG: ReadonlyMap<number, HashAlg> = new Map<number, HashAlg>([
  [TPM_ALG.SHA1, "sha1"],
  [TPM_ALG.SHA256, "sha256"],
  [TPM_ALG.SHA384, "sha384"],
  [TPM_ALG.SHA512, "sha512"],
]);

const ALG_BY_HASH: Readonly<Record<HashAlg, number>> = {
  sha1: TPM_ALG.SHA1,
  sha256: TPM_ALG.SHA256,
  sha384: TPM_ALG.SHA384,
  sha512: TPM_ALG.SHA512,
};

/** The hash named by a TPM_ALG_ID, or undefined for a non-hash or unsupported one (e.g. SM3). */
export function hashAlgFromTpm(algId: number): HashAlg | undefined {
  return HASH_BY_ALG.get(algId);
}

/** The TPM_ALG_ID of a hash. */
export function tpmAlgFromHash(alg: HashAlg): number {
  return ALG_BY_HASH[alg];
}

/**
 * TPMA_OBJECT of the TCG default EK templates L-1 (RSA 2048) and L-2 (ECC
 * P-256): fixedTPM, fixedParent, sensitiveDataOrigin, adminWithPolicy,
 * restricted, decrypt = 0x000300b2 (TCG EK Credential Profile 2.5, Annex B.3).
 * userWithAuth is clear, so the EK's user role needs its policy session.
 * Shared by the attester, which creates the EK, and the verifier, which checks it.
 */
export const TCG_EK_ATTRIBUTES: number =
  TPMA_OBJECT.fixedTPM |
  TPMA_OBJECT.fixedParent |
  TPMA_OBJECT.sensitiveDataOrigin |
  TPMA_OBJECT.adminWithPolicy |
  TPMA_OBJECT.restricted |
  TPMA_OBJECT.decrypt;

/**
 * The authPolicy of templates L-1 and L-2: PolicySecret(TPM_RH_ENDORSEMENT)
 * with SHA-256 ("PolicyA", TCG EK Credential Profile 2.5, Annex B.3).
 */
export const TCG_EK_POLICY_SHA256: Uint8Array = fromHex(
  "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa",
);
