/** TPM2_StartAuthSession, TPM2_PolicySecret, TPM2_PolicyGetDigest (Part 3 §11.1, §23.4, §23.19). */
import { ByteWriter, MalformedError, TPM_ALG, TPM_RH } from "@veritee/core";
import { HANDLE_RANGE, handleType, TPM_CC } from "../constants.js";
import type { TpmCommand } from "./types.js";

/**
 * TPM2_StartAuthSession for an unsalted, unbound session with no parameter
 * encryption (tpmKey = bind = TPM_RH_NULL, symmetric = TPM_ALG_NULL) and
 * SHA-256 as its hash. Such a session carries no secrets: it is only used as
 * a policy session, whose authority comes from the policy commands run in it.
 */
export function startAuthSessionCommand(
  sessionType: number,
  nonceCaller: Uint8Array,
): TpmCommand<{ handle: number; nonceTPM: Uint8Array }> {
  const w = new ByteWriter();
  w.tpm2b(nonceCaller);
  w.u16(0); // encryptedSalt: empty
  w.u8(sessionType);
  w.u16(TPM_ALG.NULL); // symmetric
  w.u16(TPM_ALG.SHA256); // authHash
  return {
    name: "TPM2_StartAuthSession",
    code: TPM_CC.StartAuthSession,
    handles: [TPM_RH.NULL, TPM_RH.NULL],
    authHandles: 0,
    parameters: w.finish(),
    responseHandles: 1,
    parse: (handles, r) => {
      const handle = handles[0]!;
      const type = handleType(handle);
      if (type !== handleType(HANDLE_RANGE.policySession) && type !== handleType(HANDLE_RANGE.hmacSession)) {
        throw new MalformedError("bad-value", "TPM2_StartAuthSession.sessionHandle", "not a session handle");
      }
      return { handle, nonceTPM: r.tpm2b("nonceTPM", 64) };
    },
  };
}

/**
 * TPM2_PolicySecret (Part 3 §23.4) asserting knowledge of `authHandle`'s
 * auth value, with no nonce, cpHash, policyRef or expiration: the policy
 * digest becomes H(digest || TPM_CC_PolicySecret || name(authHandle)) then
 * H(that || ""), which for TPM_RH_ENDORSEMENT is the EK's authPolicy.
 */
export function policySecretCommand(authHandle: number, policySession: number): TpmCommand<void> {
  const w = new ByteWriter();
  w.u16(0); // nonceTPM
  w.u16(0); // cpHashA
  w.u16(0); // policyRef
  w.u32(0); // expiration
  return {
    name: "TPM2_PolicySecret",
    code: TPM_CC.PolicySecret,
    handles: [authHandle, policySession],
    authHandles: 1,
    parameters: w.finish(),
    responseHandles: 0,
    parse: (_h, r) => {
      r.tpm2b("timeout", 8);
      r.u16("policyTicket.tag");
      r.u32("policyTicket.hierarchy");
      r.tpm2b("policyTicket.digest", 64);
    },
  };
}

/** TPM2_PolicyGetDigest (Part 3 §23.19): the session's current policy digest. */
export function policyGetDigestCommand(policySession: number): TpmCommand<Uint8Array> {
  return {
    name: "TPM2_PolicyGetDigest",
    code: TPM_CC.PolicyGetDigest,
    handles: [policySession],
    authHandles: 0,
    parameters: new Uint8Array(0),
    responseHandles: 0,
    parse: (_h, r) => r.tpm2b("policyDigest", 64),
  };
}
