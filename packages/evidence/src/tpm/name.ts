import { type HashAlg, hash, tpmAlgFromHash } from "@veritee/core";

/**
 * The Name of a TPM object: nameAlg (u16) || H_nameAlg(TPMT_PUBLIC), where the
 * hash covers the marshalled TPMT_PUBLIC (not the TPM2B size prefix).
 * TPM 2.0 Part 1 §16 "Names".
 */
export function objectName(nameAlg: HashAlg, tpmtPublic: Uint8Array): Uint8Array {
  const digest = hash(nameAlg, tpmtPublic);
  const out = new Uint8Array(2 + digest.length);
  const id = tpmAlgFromHash(nameAlg);
  out[0] = id >> 8;
  out[1] = id & 0xff;
  out.set(digest, 2);
  return out;
}
