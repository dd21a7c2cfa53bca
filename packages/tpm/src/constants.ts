/**
 * TPM 2.0 constants the client needs beyond those shared in `@veritee/core`.
 * Values from TPM 2.0 Library Part 2 (Structures), rev 1.59.
 */

/** TPM_CC command codes (Part 2 §6.5) of the commands this client sends. */
export const TPM_CC = {
  EvictControl: 0x00000120,
  CreatePrimary: 0x00000131,
  DictionaryAttackLockReset: 0x00000139,
  DictionaryAttackParameters: 0x0000013a,
  Startup: 0x00000144,
  Shutdown: 0x00000145,
  ActivateCredential: 0x00000147,
  NV_Read: 0x0000014e,
  PolicySecret: 0x00000151,
  Create: 0x00000153,
  Load: 0x00000157,
  Quote: 0x00000158,
  FlushContext: 0x00000165,
  NV_ReadPublic: 0x00000169,
  ReadPublic: 0x00000173,
  StartAuthSession: 0x00000176,
  GetCapability: 0x0000017a,
  GetRandom: 0x0000017b,
  PCR_Read: 0x0000017e,
  PCR_Extend: 0x00000182,
  PolicyGetDigest: 0x00000189,
} as const;

/** TPM_SU startup/shutdown types (Part 2 §6.10). */
export const TPM_SU = { CLEAR: 0x0000, STATE: 0x0001 } as const;

/** TPM_SE session types (Part 2 §6.11). */
export const TPM_SE = { HMAC: 0x00, POLICY: 0x01, TRIAL: 0x03 } as const;

/** TPM_CAP capability groups (Part 2 §6.12). */
export const TPM_CAP = { HANDLES: 0x00000001, PCRS: 0x00000005, TPM_PROPERTIES: 0x00000006 } as const;

/** TPM_PT fixed (0x1xx) and variable (0x2xx) properties (Part 2 §6.13). */
export const TPM_PT = {
  PCR_COUNT: 0x00000112,
  MAX_COMMAND_SIZE: 0x0000011e,
  MAX_RESPONSE_SIZE: 0x0000011f,
  NV_BUFFER_MAX: 0x0000012c,
  LOCKOUT_COUNTER: 0x0000020e,
  MAX_AUTH_FAIL: 0x0000020f,
  LOCKOUT_INTERVAL: 0x00000210,
  LOCKOUT_RECOVERY: 0x00000211,
} as const;

/** TPMA_SESSION bits (Part 2 §8.4). */
export const TPMA_SESSION = { continueSession: 0x01 } as const;

/** TPMA_NV read-authorisation bits (Part 2 §13.4). */
export const TPMA_NV = {
  PPREAD: 0x00010000,
  OWNERREAD: 0x00020000,
  AUTHREAD: 0x00040000,
  POLICYREAD: 0x00080000,
  WRITTEN: 0x20000000,
} as const;

/** The first handle of each handle range (Part 2 §7.2, TPM_HT in the top byte). */
export const HANDLE_RANGE = {
  nvIndex: 0x01000000,
  hmacSession: 0x02000000,
  policySession: 0x03000000,
  permanent: 0x40000000,
  transient: 0x80000000,
  persistent: 0x81000000,
} as const;

/** The top byte of a handle, its TPM_HT (Part 2 §7.2). */
export function handleType(handle: number): number {
  return handle >>> 24;
}
