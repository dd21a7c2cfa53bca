/**
 * Marshalling of the TPM 2.0 structures the client sends and the few it must
 * look into (Part 2). Evidence structures (TPMS_ATTEST, TPMT_SIGNATURE,
 * TPMT_PUBLIC) are returned to callers as bytes; the `evidence` package
 * decodes them for verification. Here they are only framed: their length is
 * established and their header sanity-checked.
 */
import {
  type ByteReader,
  ByteWriter,
  digestSize,
  type HashAlg,
  hash,
  hashAlgFromTpm,
  MalformedError,
  TPM_ALG,
  tpmAlgFromHash,
} from "@veritee/core";

/** A PCR selection: for each bank, the PCR indices. */
export type PcrSelection = Readonly<Partial<Record<HashAlg, readonly number[]>>>;

/** Banks in the order selections are marshalled (a fixed order makes quotes reproducible). */
export const BANK_ORDER: readonly HashAlg[] = ["sha1", "sha256", "sha384", "sha512"];

/** PCR_SELECT_MIN for the PC Client platform: 24 PCRs (TCG PC Client Platform TPM Profile). */
const PCR_SELECT_MIN = 3;
/** The largest PCR index accepted (a sizeofSelect of at most 32 octets). */
export const MAX_PCR_INDEX = 255;
/** HASH_COUNT bound for TPML_PCR_SELECTION and TPML_DIGEST_VALUES (Part 2 §10.9). */
const MAX_BANKS = 16;

/** A selection normalised to a bank → sorted, distinct indices map, in {@link BANK_ORDER}. */
export type NormalizedSelection = ReadonlyMap<HashAlg, readonly number[]>;

/**
 * Check and normalise a caller's selection. Throws RangeError for indices
 * outside 0–255 or unknown banks (callers turn it into `bad-argument`).
 */
export function normalizeSelection(selection: PcrSelection): NormalizedSelection {
  const out = new Map<HashAlg, number[]>();
  for (const key of Object.keys(selection)) {
    if (!(BANK_ORDER as readonly string[]).includes(key)) throw new RangeError(`unknown PCR bank ${key}`);
  }
  for (const bank of BANK_ORDER) {
    const pcrs = selection[bank];
    if (pcrs === undefined) continue;
    for (const p of pcrs) {
      if (!Number.isInteger(p) || p < 0 || p > MAX_PCR_INDEX) throw new RangeError("PCR index out of range 0..255");
    }
    const sorted = [...new Set(pcrs)].sort((a, b) => a - b);
    if (sorted.length > 0) out.set(bank, sorted);
  }
  return out;
}

/** Marshal a TPML_PCR_SELECTION (Part 2 §10.9) with TPMS_PCR_SELECTION bitmaps (§10.6). */
export function writePcrSelection(w: ByteWriter, selection: NormalizedSelection): void {
  w.u32(selection.size);
  for (const [bank, pcrs] of selection) {
    const highest = pcrs.length === 0 ? 0 : pcrs[pcrs.length - 1]!;
    const size = Math.max(PCR_SELECT_MIN, Math.floor(highest / 8) + 1);
    const bitmap = new Uint8Array(size);
    for (const p of pcrs) bitmap[p >> 3]! |= 1 << (p & 7);
    w.u16(tpmAlgFromHash(bank)).u8(size).bytes(bitmap);
  }
}

/**
 * Unmarshal a TPML_PCR_SELECTION. Banks must be hashes this library knows and
 * appear at most once; the result lists selected indices in ascending order,
 * banks in wire order (which is the order the TPM returns values in).
 */
export function readPcrSelection(r: ByteReader, field: string): { bank: HashAlg; pcrs: number[] }[] {
  const count = r.u32(`${field}.count`);
  if (count > MAX_BANKS) throw new MalformedError("too-large", `${r.what}.${field}.count`, `${count} banks`);
  const out: { bank: HashAlg; pcrs: number[] }[] = [];
  for (let i = 0; i < count; i++) {
    const algId = r.u16(`${field}[${i}].hash`);
    const bank = hashAlgFromTpm(algId);
    if (bank === undefined) throw new MalformedError("unsupported", `${r.what}.${field}[${i}].hash`);
    if (out.some((s) => s.bank === bank)) {
      throw new MalformedError("bad-value", `${r.what}.${field}[${i}].hash`, "bank listed twice");
    }
    const size = r.u8(`${field}[${i}].sizeofSelect`);
    if (size > (MAX_PCR_INDEX + 1) / 8) throw new MalformedError("too-large", `${r.what}.${field}[${i}].sizeofSelect`);
    const bitmap = r.bytes(size, `${field}[${i}].pcrSelect`);
    const pcrs: number[] = [];
    for (let p = 0; p < size * 8; p++) if ((bitmap[p >> 3]! >> (p & 7)) & 1) pcrs.push(p);
    out.push({ bank, pcrs });
  }
  return out;
}

/** Marshal a TPML_DIGEST_VALUES (Part 2 §10.9) of TPMT_HA (§10.3). */
export function writeDigestValues(w: ByteWriter, digests: ReadonlyMap<HashAlg, Uint8Array>): void {
  w.u32(digests.size);
  for (const [bank, digest] of digests) w.u16(tpmAlgFromHash(bank)).bytes(digest);
}

/** An empty TPM2B_SENSITIVE_CREATE (Part 2 §11.1): no auth value, no data. */
export function writeEmptySensitiveCreate(w: ByteWriter): void {
  w.u16(4).u16(0).u16(0);
}

/** The header fields of a TPMT_PUBLIC (Part 2 §12.2.4) that the client itself needs. */
export interface PublicHeader {
  readonly type: number;
  readonly nameAlg: HashAlg;
  readonly objectAttributes: number;
}

/** Read the type, nameAlg and objectAttributes at the start of a TPMT_PUBLIC. */
export function readPublicHeader(tpmtPublic: Uint8Array, what: string): PublicHeader {
  const view = new DataView(tpmtPublic.buffer, tpmtPublic.byteOffset, tpmtPublic.byteLength);
  if (tpmtPublic.length < 8) throw new MalformedError("truncated", `${what}.publicArea`, "shorter than its header");
  const nameAlg = hashAlgFromTpm(view.getUint16(2, false));
  if (nameAlg === undefined) throw new MalformedError("unsupported", `${what}.publicArea.nameAlg`);
  return { type: view.getUint16(0, false), nameAlg, objectAttributes: view.getUint32(4, false) };
}

/**
 * Read a TPM2B_PUBLIC. Returns the whole TPM2B (size prefix included, the form
 * tpm2-tools writes with `-u`) and the TPMT_PUBLIC inside it.
 */
export function readTpm2bPublic(r: ByteReader, field: string): { tpm2b: Uint8Array; tpmt: Uint8Array } {
  const tpmt = r.tpm2b(field);
  if (tpmt.length === 0) throw new MalformedError("bad-length", `${r.what}.${field}`, "empty public area");
  readPublicHeader(tpmt, `${r.what}.${field}`);
  const tpm2b = new Uint8Array(tpmt.length + 2);
  new DataView(tpm2b.buffer).setUint16(0, tpmt.length, false);
  tpm2b.set(tpmt, 2);
  return { tpm2b, tpmt };
}

/** The TPMT_PUBLIC inside TPM2B_PUBLIC bytes, checked for an exact size. */
export function tpmtOfTpm2bPublic(tpm2bPublic: Uint8Array, what: string): Uint8Array {
  if (tpm2bPublic.length < 2) throw new MalformedError("truncated", what);
  const size = (tpm2bPublic[0]! << 8) | tpm2bPublic[1]!;
  if (size !== tpm2bPublic.length - 2 || size === 0) throw new MalformedError("bad-length", what);
  return tpm2bPublic.slice(2);
}

/**
 * An object's Name: nameAlg || H_nameAlg(TPMT_PUBLIC) (Part 1 §16). NV
 * indices are named the same way over their TPMS_NV_PUBLIC.
 */
export function computeName(nameAlg: HashAlg, publicBytes: Uint8Array): Uint8Array {
  const digest = hash(nameAlg, publicBytes);
  const out = new Uint8Array(2 + digest.length);
  new DataView(out.buffer).setUint16(0, tpmAlgFromHash(nameAlg), false);
  out.set(digest, 2);
  return out;
}

/** Skip TPM2B_CREATION_DATA, TPM2B_DIGEST creationHash and TPMT_TK_CREATION (Part 3 §12.1, §24.1). */
export function skipCreationOutputs(r: ByteReader): void {
  r.tpm2b("creationData");
  r.tpm2b("creationHash", 64);
  r.u16("creationTicket.tag");
  r.u32("creationTicket.hierarchy");
  r.tpm2b("creationTicket.digest", 64);
}

/**
 * Frame a TPMT_SIGNATURE (Part 2 §11.3): read exactly its bytes and return
 * a copy. The union member is chosen by sigAlg; an unknown one cannot be
 * framed and is `unsupported`.
 */
export function readSignature(r: ByteReader, field: string): Uint8Array {
  // Re-marshal what was read: TPM marshalling is canonical, so this is byte-identical to the input.
  const w = new ByteWriter();
  const sigAlg = r.u16(`${field}.sigAlg`);
  w.u16(sigAlg);
  switch (sigAlg) {
    case TPM_ALG.RSASSA:
    case TPM_ALG.RSAPSS:
      w.u16(r.u16(`${field}.hash`));
      w.tpm2b(r.tpm2b(`${field}.sig`, 512));
      break;
    case TPM_ALG.ECDSA:
    case TPM_ALG.ECDAA:
    case TPM_ALG.SM2:
    case TPM_ALG.ECSCHNORR:
      w.u16(r.u16(`${field}.hash`));
      w.tpm2b(r.tpm2b(`${field}.signatureR`, 128));
      w.tpm2b(r.tpm2b(`${field}.signatureS`, 128));
      break;
    case TPM_ALG.HMAC: {
      const algId = r.u16(`${field}.hashAlg`);
      const alg = hashAlgFromTpm(algId);
      if (alg === undefined) throw new MalformedError("unsupported", `${r.what}.${field}.hashAlg`);
      w.u16(algId).bytes(r.bytes(digestSize(alg), `${field}.digest`));
      break;
    }
    case TPM_ALG.NULL:
      break;
    default:
      throw new MalformedError("unsupported", `${r.what}.${field}.sigAlg`);
  }
  return w.finish();
}
