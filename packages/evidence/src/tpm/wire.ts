/**
 * Wire helpers shared by the TPM 2.0 structure decoders in this folder:
 * algorithm identifiers, size bounds and TPM2B_NAME. Internal to the package
 * (not re-exported from the package index).
 */
import {
  type ByteReader,
  type ByteWriter,
  digestSize,
  type HashAlg,
  hashAlgFromTpm,
  MalformedError,
  TPM_ALG,
  tpmAlgFromHash,
} from "@veritee/core";

/** sizeof(TPMU_HA): the largest digest, SHA-512 (Part 2 §10.3.1); bounds TPM2B_DIGEST. */
export const MAX_DIGEST_SIZE = 64;

/** sizeof(TPMT_HA) = 2 + sizeof(TPMU_HA) (Part 2 §10.3.2); bounds TPM2B_DATA (Part 2 §10.4.3). */
export const MAX_DATA_SIZE = 66;

/** sizeof(TPMU_NAME) = sizeof(TPMT_HA) (Part 2 §10.5.1); bounds TPM2B_NAME (Part 2 §10.5.2). */
export const MAX_NAME_SIZE = 66;

/** MAX_ECC_KEY_BYTES for the largest supported curve, NIST P-521 (Part 2 §11.2.5.1). */
export const MAX_ECC_KEY_BYTES = 66;

/** MAX_RSA_KEY_BYTES for RSA-4096, the largest key size we accept (Part 2 §11.2.4.5). */
export const MAX_RSA_KEY_BYTES = 512;

/**
 * Hash algorithm identifiers that are valid TPMI_ALG_HASH values but that this
 * verifier does not implement: SM3_256 and the SHA3 family (TPM 2.0 Part 2 §6.3).
 */
const UNSUPPORTED_HASHES: ReadonlySet<number> = new Set([TPM_ALG.SM3_256, 0x0027, 0x0028, 0x0029]);

/** Digest sizes of the unsupported hashes, so that Names made with them still size-check. */
const UNSUPPORTED_HASH_SIZES: ReadonlyMap<number, number> = new Map([
  [TPM_ALG.SM3_256, 32],
  [0x0027, 32],
  [0x0028, 48],
  [0x0029, 64],
]);

/**
 * Read a TPMI_ALG_HASH (Part 2 §9.27): a supported hash, never TPM_ALG_NULL.
 * SM3 and SHA3 are valid TPM hashes that we do not implement ("unsupported");
 * anything else is not a hash at all ("bad-value").
 */
export function readHashAlg(r: ByteReader, field: string): HashAlg {
  const id = r.u16(field);
  const alg = hashAlgFromTpm(id);
  if (alg !== undefined) return alg;
  if (UNSUPPORTED_HASHES.has(id)) throw new MalformedError("unsupported", `${r.what}.${field}`, "hash algorithm");
  throw new MalformedError("bad-value", `${r.what}.${field}`, "not a hash algorithm");
}

/** Write a hash algorithm as its TPM_ALG_ID. */
export function writeHashAlg(w: ByteWriter, alg: HashAlg): void {
  w.u16(tpmAlgFromHash(alg));
}

/**
 * Read a TPM2B_NAME (Part 2 §10.5.2). A Name is empty, a 4-byte handle (for
 * PCRs and permanent handles), or a TPM_ALG_ID followed by a digest of exactly
 * that algorithm's size (Part 1 §16); any other shape is rejected.
 */
export function readName(r: ByteReader, field: string): Uint8Array {
  const name = r.tpm2b(field, MAX_NAME_SIZE);
  if (name.length === 0 || name.length === 4) return name;
  if (name.length < 2) throw new MalformedError("bad-length", `${r.what}.${field}`, "name too short");
  const id = (name[0]! << 8) | name[1]!;
  const alg = hashAlgFromTpm(id);
  const size = alg !== undefined ? digestSize(alg) : UNSUPPORTED_HASH_SIZES.get(id);
  if (size === undefined) throw new MalformedError("bad-value", `${r.what}.${field}`, "name algorithm");
  if (name.length !== 2 + size) throw new MalformedError("bad-length", `${r.what}.${field}`, "name digest size");
  return name;
}

/** Read a TPMI_YES_NO (Part 2 §9.2): exactly 0 or 1. */
export function readYesNo(r: ByteReader, field: string): boolean {
  const v = r.u8(field);
  if (v > 1) throw new MalformedError("bad-value", `${r.what}.${field}`, "not 0 or 1");
  return v === 1;
}

/** Look a wire identifier up in a name table, or fail with `unsupported`. */
export function lookup<T>(table: ReadonlyMap<number, T>, id: number, r: ByteReader, field: string): T {
  const v = table.get(id);
  if (v === undefined) throw new MalformedError("unsupported", `${r.what}.${field}`, "algorithm or value");
  return v;
}

/** Invert a name table (for encoders). */
export function invert<T>(table: ReadonlyMap<number, T>): ReadonlyMap<T, number> {
  const out = new Map<T, number>();
  for (const [k, v] of table) out.set(v, k);
  return out;
}

/** The wire identifier of a name, or a RangeError for a name the table lacks (an encoder bug). */
export function idOf<T>(table: ReadonlyMap<T, number>, name: T): number {
  const id = table.get(name);
  if (id === undefined) throw new RangeError(`no wire identifier for ${String(name)}`);
  return id;
}
