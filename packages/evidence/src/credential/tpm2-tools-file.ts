/**
 * The credential file of tpm2-tools (`tpm2_makecredential -o`,
 * `tpm2_activatecredential -i`): a u32 magic 0xBADCC0DE, a u32 version 1,
 * then TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET, all big-endian.
 */
import { ByteReader, ByteWriter, MalformedError } from "@veritee/core";
import type { MadeCredential } from "./make-credential.js";

/** The file's magic number. */
export const TPM2_TOOLS_CREDENTIAL_MAGIC = 0xbadcc0de;
/** The only file version tpm2-tools writes. */
export const TPM2_TOOLS_CREDENTIAL_VERSION = 1;

/**
 * sizeof(TPMS_ID_OBJECT) with a 512-bit nameAlg: two TPM2B_DIGESTs
 * (Part 2 §12.4.2), the bound the TPM's own unmarshalling applies.
 */
const MAX_ID_OBJECT = 2 * (2 + 64);
/** sizeof(TPMU_ENCRYPTED_SECRET) for RSA keys up to 4096 bits (Part 2 §11.4.32). */
const MAX_ENCRYPTED_SECRET = 512;

/**
 * Encode a {@link MadeCredential} as a tpm2-tools credential file.
 *
 * @example
 * writeFileSync("cred.blob", encodeTpm2ToolsCredential(await makeCredential(options)));
 */
export function encodeTpm2ToolsCredential(made: MadeCredential): Uint8Array {
  return new ByteWriter()
    .u32(TPM2_TOOLS_CREDENTIAL_MAGIC)
    .u32(TPM2_TOOLS_CREDENTIAL_VERSION)
    .tpm2b(made.credentialBlob)
    .tpm2b(made.encryptedSecret)
    .finish();
}

/**
 * Decode a tpm2-tools credential file strictly: magic, version 1, both
 * structures within their TPM size bounds, a well-formed TPMS_ID_OBJECT (its
 * integrityHMAC a digest size, encIdentity non-empty), no trailing bytes.
 * Throws `MalformedError` otherwise.
 */
export function decodeTpm2ToolsCredential(file: Uint8Array): MadeCredential {
  const r = new ByteReader(file, "tpm2-tools credential");
  if (r.u32("magic") !== TPM2_TOOLS_CREDENTIAL_MAGIC) {
    throw new MalformedError("bad-magic", "tpm2-tools credential.magic", "expected 0xBADCC0DE");
  }
  if (r.u32("version") !== TPM2_TOOLS_CREDENTIAL_VERSION) {
    throw new MalformedError("unsupported", "tpm2-tools credential.version", "expected version 1");
  }
  const credentialBlob = r.tpm2b("credentialBlob", MAX_ID_OBJECT);
  const encryptedSecret = r.tpm2b("secret", MAX_ENCRYPTED_SECRET);
  r.end();
  decodeIdObject(credentialBlob);
  if (encryptedSecret.length === 0) throw new MalformedError("bad-length", "tpm2-tools credential.secret", "empty");
  return { credentialBlob, encryptedSecret };
}

/**
 * Split the body of a TPM2B_ID_OBJECT into its integrityHMAC and encIdentity
 * (Part 2 §12.4.2: encIdentity is the rest of the buffer, not size-prefixed).
 */
export function decodeIdObject(credentialBlob: Uint8Array): { integrityHmac: Uint8Array; encIdentity: Uint8Array } {
  const r = new ByteReader(credentialBlob, "TPMS_ID_OBJECT");
  const integrityHmac = r.tpm2b("integrityHMAC", 64);
  if (![20, 32, 48, 64].includes(integrityHmac.length)) {
    throw new MalformedError("bad-length", "TPMS_ID_OBJECT.integrityHMAC", "not a digest size");
  }
  // encIdentity holds at least a TPM2B_DIGEST's size field and one byte.
  if (r.remaining < 3) throw new MalformedError("truncated", "TPMS_ID_OBJECT.encIdentity", "too short");
  const encIdentity = r.bytes(r.remaining, "encIdentity");
  r.end();
  return { integrityHmac, encIdentity };
}
