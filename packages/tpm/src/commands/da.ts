/** TPM2_DictionaryAttackLockReset and TPM2_DictionaryAttackParameters (Part 3 §25.2, §25.3). */
import { ByteWriter, TPM_RH } from "@veritee/core";
import { TPM_CC } from "../constants.js";
import type { TpmCommand } from "./types.js";

/** TPM2_DictionaryAttackLockReset: failedTries = 0, under lockout authorisation. */
export function dictionaryAttackLockResetCommand(): TpmCommand<void> {
  return {
    name: "TPM2_DictionaryAttackLockReset",
    code: TPM_CC.DictionaryAttackLockReset,
    handles: [TPM_RH.LOCKOUT],
    authHandles: 1,
    parameters: new Uint8Array(0),
    responseHandles: 0,
    parse: () => undefined,
  };
}

/**
 * TPM2_DictionaryAttackParameters, under lockout authorisation. A
 * `recoveryTime` of 0 disables dictionary-attack protection (Part 1 §19.8:
 * failures are then not counted), a `lockoutRecovery` of 0 means a lockoutAuth
 * failure is cleared by the next TPM Reset.
 */
export function dictionaryAttackParametersCommand(
  maxTries: number,
  recoveryTime: number,
  lockoutRecovery: number,
): TpmCommand<void> {
  return {
    name: "TPM2_DictionaryAttackParameters",
    code: TPM_CC.DictionaryAttackParameters,
    handles: [TPM_RH.LOCKOUT],
    authHandles: 1,
    parameters: new ByteWriter().u32(maxTries).u32(recoveryTime).u32(lockoutRecovery).finish(),
    responseHandles: 0,
    parse: () => undefined,
  };
}
