/**
 * Decoding of TPM_RC response codes (TPM 2.0 Part 2 §6.6).
 *
 * A response code is either format-zero (bit 7 clear: an error number in bits
 * 0–6, bit 8 "V" set for TPM 2.0 codes, bit 10 "T" for vendor codes, bit 11
 * "S" for warnings) or format-one (bit 7 set: an error number in bits 0–5,
 * bit 6 "P" saying whether bits 8–11 "N" number a parameter, or else a handle
 * (N 1–7) or a session (N 9–15)). Bits 12–31 are zero in anything a TPM sends;
 * TSS layers put their layer number there, which is not a TPM response.
 */

/** Format-zero TPM 2.0 errors (Part 2 §6.6: RC_VER1 + n). */
const FMT0_ERRORS = {
  0: "TPM_RC_INITIALIZE",
  1: "TPM_RC_FAILURE",
  3: "TPM_RC_SEQUENCE",
  11: "TPM_RC_PRIVATE",
  25: "TPM_RC_HMAC",
  32: "TPM_RC_DISABLED",
  33: "TPM_RC_EXCLUSIVE",
  36: "TPM_RC_AUTH_TYPE",
  37: "TPM_RC_AUTH_MISSING",
  38: "TPM_RC_POLICY",
  39: "TPM_RC_PCR",
  40: "TPM_RC_PCR_CHANGED",
  45: "TPM_RC_UPGRADE",
  46: "TPM_RC_TOO_MANY_CONTEXTS",
  47: "TPM_RC_AUTH_UNAVAILABLE",
  48: "TPM_RC_REBOOT",
  49: "TPM_RC_UNBALANCED",
  66: "TPM_RC_COMMAND_SIZE",
  67: "TPM_RC_COMMAND_CODE",
  68: "TPM_RC_AUTHSIZE",
  69: "TPM_RC_AUTH_CONTEXT",
  70: "TPM_RC_NV_RANGE",
  71: "TPM_RC_NV_SIZE",
  72: "TPM_RC_NV_LOCKED",
  73: "TPM_RC_NV_AUTHORIZATION",
  74: "TPM_RC_NV_UNINITIALIZED",
  75: "TPM_RC_NV_SPACE",
  76: "TPM_RC_NV_DEFINED",
  80: "TPM_RC_BAD_CONTEXT",
  81: "TPM_RC_CPHASH",
  82: "TPM_RC_PARENT",
  83: "TPM_RC_NEEDS_TEST",
  84: "TPM_RC_NO_RESULT",
  85: "TPM_RC_SENSITIVE",
} as const;

/** Format-one errors (Part 2 §6.6: RC_FMT1 + n). */
const FMT1_ERRORS = {
  1: "TPM_RC_ASYMMETRIC",
  2: "TPM_RC_ATTRIBUTES",
  3: "TPM_RC_HASH",
  4: "TPM_RC_VALUE",
  5: "TPM_RC_HIERARCHY",
  7: "TPM_RC_KEY_SIZE",
  8: "TPM_RC_MGF",
  9: "TPM_RC_MODE",
  10: "TPM_RC_TYPE",
  11: "TPM_RC_HANDLE",
  12: "TPM_RC_KDF",
  13: "TPM_RC_RANGE",
  14: "TPM_RC_AUTH_FAIL",
  15: "TPM_RC_NONCE",
  16: "TPM_RC_PP",
  18: "TPM_RC_SCHEME",
  21: "TPM_RC_SIZE",
  22: "TPM_RC_SYMMETRIC",
  23: "TPM_RC_TAG",
  24: "TPM_RC_SELECTOR",
  26: "TPM_RC_INSUFFICIENT",
  27: "TPM_RC_SIGNATURE",
  28: "TPM_RC_KEY",
  29: "TPM_RC_POLICY_FAIL",
  31: "TPM_RC_INTEGRITY",
  32: "TPM_RC_TICKET",
  33: "TPM_RC_RESERVED_BITS",
  34: "TPM_RC_BAD_AUTH",
  35: "TPM_RC_EXPIRED",
  36: "TPM_RC_POLICY_CC",
  37: "TPM_RC_BINDING",
  38: "TPM_RC_CURVE",
  39: "TPM_RC_ECC_POINT",
} as const;

/** Warnings (Part 2 §6.6: RC_WARN + n). */
const WARNINGS = {
  1: "TPM_RC_CONTEXT_GAP",
  2: "TPM_RC_OBJECT_MEMORY",
  3: "TPM_RC_SESSION_MEMORY",
  4: "TPM_RC_MEMORY",
  5: "TPM_RC_SESSION_HANDLES",
  6: "TPM_RC_OBJECT_HANDLES",
  7: "TPM_RC_LOCALITY",
  8: "TPM_RC_YIELDED",
  9: "TPM_RC_CANCELED",
  10: "TPM_RC_TESTING",
  16: "TPM_RC_REFERENCE_H0",
  17: "TPM_RC_REFERENCE_H1",
  18: "TPM_RC_REFERENCE_H2",
  19: "TPM_RC_REFERENCE_H3",
  20: "TPM_RC_REFERENCE_H4",
  21: "TPM_RC_REFERENCE_H5",
  22: "TPM_RC_REFERENCE_H6",
  24: "TPM_RC_REFERENCE_S0",
  25: "TPM_RC_REFERENCE_S1",
  26: "TPM_RC_REFERENCE_S2",
  27: "TPM_RC_REFERENCE_S3",
  28: "TPM_RC_REFERENCE_S4",
  29: "TPM_RC_REFERENCE_S5",
  30: "TPM_RC_REFERENCE_S6",
  32: "TPM_RC_NV_RATE",
  33: "TPM_RC_LOCKOUT",
  34: "TPM_RC_RETRY",
  35: "TPM_RC_NV_UNAVAILABLE",
} as const;

/**
 * The name of a TPM response code: every code Part 2 §6.6 defines, plus
 * `TPM_RC_BAD_TAG` (the one TPM 1.2-format code a TPM 2.0 sends),
 * `TPM_RC_VENDOR` (a vendor-defined format-zero code) and `TPM_RC_UNKNOWN`
 * (anything else: an unassigned number or bits above bit 11 set).
 */
export type TpmRcName =
  | (typeof FMT0_ERRORS)[keyof typeof FMT0_ERRORS]
  | (typeof FMT1_ERRORS)[keyof typeof FMT1_ERRORS]
  | (typeof WARNINGS)[keyof typeof WARNINGS]
  | "TPM_RC_SUCCESS"
  | "TPM_RC_BAD_TAG"
  | "TPM_RC_VENDOR"
  | "TPM_RC_UNKNOWN";

/** A decoded response code. */
export interface ResponseCodeInfo {
  /** The raw code. */
  readonly rc: number;
  /** Its name; the same for every parameter/handle/session position. */
  readonly name: TpmRcName;
  /** Format-one codes carry the position of the faulty parameter, handle or session. */
  readonly format: "zero" | "one";
  /** Warnings (S bit) mean the command was not executed and may succeed when retried. */
  readonly warning: boolean;
  /** 1-based number of the faulty parameter (format-one with P set). */
  readonly parameter?: number;
  /** 1-based number of the faulty handle (format-one, P clear, N 1–7). */
  readonly handle?: number;
  /** 1-based number of the faulty session (format-one, P clear, N 9–15). */
  readonly session?: number;
}

const RC_VER1 = 0x100;
const RC_FMT1 = 0x080;
const RC_VENDOR = 0x400;
const RC_WARN_BIT = 0x800;
const TPM12_BAD_TAG = 0x01e;

function lookup(table: Readonly<Record<number, TpmRcName>>, n: number): TpmRcName {
  return table[n] ?? "TPM_RC_UNKNOWN";
}

/**
 * Decode any 32-bit value as a TPM response code (Part 2 §6.6). Total: never
 * throws; a value no TPM sends decodes as `TPM_RC_UNKNOWN`.
 *
 * @example
 * decodeResponseCode(0x18b) // { name: "TPM_RC_HANDLE", format: "one", handle: 1, warning: false, rc: 0x18b }
 */
export function decodeResponseCode(rc: number): ResponseCodeInfo {
  const code = rc >>> 0;
  if (code === 0) return { rc: code, name: "TPM_RC_SUCCESS", format: "zero", warning: false };
  // Bits 12-31 are never set by a TPM (Part 2 §6.6); a TSS layer code is not a TPM response.
  if (code > 0xfff) return { rc: code, name: "TPM_RC_UNKNOWN", format: "zero", warning: false };

  if ((code & RC_FMT1) !== 0) {
    const n = (code >>> 8) & 0xf;
    const name = lookup(FMT1_ERRORS, code & 0x3f);
    // N = 0 names no position; with P clear, N = 8 would be "session 0", which does not exist.
    if (n === 0) return { rc: code, name, format: "one", warning: false };
    if ((code & 0x040) !== 0) return { rc: code, name, format: "one", warning: false, parameter: n };
    if (n < 8) return { rc: code, name, format: "one", warning: false, handle: n };
    if (n === 8) return { rc: code, name, format: "one", warning: false };
    return { rc: code, name, format: "one", warning: false, session: n - 8 };
  }

  const warning = (code & RC_WARN_BIT) !== 0;
  if ((code & RC_VER1) === 0) {
    // A TPM 1.2-format code; TPM_RC_BAD_TAG is the only one a TPM 2.0 returns (Part 2 §6.6).
    return { rc: code, name: code === TPM12_BAD_TAG ? "TPM_RC_BAD_TAG" : "TPM_RC_UNKNOWN", format: "zero", warning };
  }
  if ((code & RC_VENDOR) !== 0) return { rc: code, name: "TPM_RC_VENDOR", format: "zero", warning };
  // Bit 9 is reserved in format-zero codes.
  if ((code & 0x200) !== 0) return { rc: code, name: "TPM_RC_UNKNOWN", format: "zero", warning };
  const number = code & 0x7f;
  return { rc: code, name: lookup(warning ? WARNINGS : FMT0_ERRORS, number), format: "zero", warning };
}

/** Every name `decodeResponseCode` can produce (for exhaustive tests and documentation). */
export const TPM_RC_NAMES: readonly TpmRcName[] = [
  "TPM_RC_SUCCESS",
  "TPM_RC_BAD_TAG",
  "TPM_RC_VENDOR",
  "TPM_RC_UNKNOWN",
  ...Object.values(FMT0_ERRORS),
  ...Object.values(FMT1_ERRORS),
  ...Object.values(WARNINGS),
];
