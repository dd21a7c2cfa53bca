/**
 * TPML_PCR_SELECTION (TPM 2.0 Part 2 §10.9.7), the PCR digest that TPM2_Quote
 * signs (Part 3 §18.4), and the PCR values file that `tpm2_quote -F values`
 * writes.
 */
import { ByteReader, ByteWriter, digestSize, type HashAlg, hash, MalformedError } from "@veritee/core";
import { VerificationError } from "../errors.js";
import { readHashAlg, writeHashAlg } from "./wire.js";

/**
 * PCR_SELECT_MIN for the PC Client platform (24 PCRs): a TPM rejects a
 * TPMS_PCR_SELECTION with fewer select bytes (Part 2 §10.6.2).
 */
export const PCR_SELECT_MIN = 3;

/** The most select bytes we accept: 4 bytes, PCRs 0..31 (no TPM implements more). */
export const PCR_SELECT_MAX = 4;

/**
 * The most banks in one TPML_PCR_SELECTION. A TPM bounds `count` by HASH_COUNT,
 * its number of implemented hashes (Part 2 §10.9.7); no TPM has more than 8.
 */
export const MAX_PCR_BANKS = 8;

/** One TPMS_PCR_SELECTION (Part 2 §10.6.2): a bank and the PCRs selected in it. */
export interface PcrBankSelection {
  /** The PCR bank. */
  readonly hash: HashAlg;
  /** The number of select bytes on the wire (3 or 4); PCR indices are below `8 * sizeofSelect`. */
  readonly sizeofSelect: number;
  /** The selected PCR indices, strictly ascending. */
  readonly pcrs: readonly number[];
}

/** A decoded TPML_PCR_SELECTION: banks in wire order, each bank at most once. */
export type PcrSelection = readonly PcrBankSelection[];

/** PCR values by bank, then by PCR index. */
export type PcrValues = ReadonlyMap<HashAlg, ReadonlyMap<number, Uint8Array>>;

/**
 * Read a TPML_PCR_SELECTION from `r`. `pcrSelect[i]` bit `j` (least significant
 * first) selects PCR `8 * i + j` (Part 2 §10.6.2). A bank listed twice is
 * rejected: a TPM would hash it twice, which no honest attester asks for, and
 * a selection with one entry per bank has one meaning.
 */
export function readPcrSelection(r: ByteReader, field = "pcrSelections"): PcrSelection {
  const count = r.u32(`${field}.count`);
  if (count > MAX_PCR_BANKS) {
    throw new MalformedError("too-large", `${r.what}.${field}.count`, `more than ${MAX_PCR_BANKS} banks`);
  }
  const banks: PcrBankSelection[] = [];
  for (let i = 0; i < count; i++) {
    const bank = `${field}[${i}]`;
    const bankHash = readHashAlg(r, `${bank}.hash`);
    for (const b of banks) {
      if (b.hash === bankHash) throw new MalformedError("bad-value", `${r.what}.${bank}.hash`, "bank selected twice");
    }
    const sizeofSelect = r.u8(`${bank}.sizeofSelect`);
    if (sizeofSelect < PCR_SELECT_MIN || sizeofSelect > PCR_SELECT_MAX) {
      throw new MalformedError("bad-length", `${r.what}.${bank}.sizeofSelect`, "out of range");
    }
    // Byte by byte rather than as a slice: this runs for every quote verified.
    const pcrs: number[] = [];
    for (let byte = 0; byte < sizeofSelect; byte++) {
      const bits = r.u8(`${bank}.pcrSelect`);
      if (bits === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (bits & (1 << bit)) pcrs.push(8 * byte + bit);
    }
    // Frozen: the verified quote's PCR values are laid out by this selection.
    banks.push(Object.freeze({ hash: bankHash, sizeofSelect, pcrs: Object.freeze(pcrs) }));
  }
  return Object.freeze(banks);
}

/**
 * Write a TPML_PCR_SELECTION. Throws a RangeError for a selection that cannot
 * be encoded (a PCR beyond `8 * sizeofSelect`, indices not strictly
 * ascending); the encoder does not check what the decoder rejects otherwise,
 * so tests can forge such selections.
 */
export function writePcrSelection(w: ByteWriter, selection: PcrSelection): void {
  w.u32(selection.length);
  for (const bank of selection) {
    writeHashAlg(w, bank.hash);
    w.u8(bank.sizeofSelect);
    const select = new Uint8Array(bank.sizeofSelect);
    let previous = -1;
    for (const pcr of bank.pcrs) {
      if (!Number.isInteger(pcr) || pcr <= previous || pcr >= 8 * bank.sizeofSelect) {
        throw new RangeError("PCR indices must be ascending and below 8 * sizeofSelect");
      }
      select[pcr >> 3]! |= 1 << (pcr & 7);
      previous = pcr;
    }
    w.bytes(select);
  }
}

/**
 * Decode a TPML_PCR_SELECTION that fills `bytes` exactly.
 *
 * @example
 * ```ts
 * const sel = decodePcrSelection(fromHex("00000001000b03ff0000"));
 * // [{ hash: "sha256", sizeofSelect: 3, pcrs: [0, 1, 2, 3, 4, 5, 6, 7] }]
 * ```
 */
export function decodePcrSelection(bytes: Uint8Array): PcrSelection {
  const r = new ByteReader(bytes, "TPML_PCR_SELECTION");
  const selection = readPcrSelection(r);
  r.end();
  return selection;
}

/** Encode a TPML_PCR_SELECTION (see {@link writePcrSelection} for what it checks). */
export function encodePcrSelection(selection: PcrSelection): Uint8Array {
  const w = new ByteWriter();
  writePcrSelection(w, selection);
  return w.finish();
}

/**
 * The PCR digest of TPMS_QUOTE_INFO: `hashAlg` over the concatenation of the
 * selected PCR values, banks in selection order and PCRs ascending within a
 * bank (TPM 2.0 Part 3 §18.4 TPM2_Quote; the reference implementation's
 * PCRComputeCurrentDigest walks the selection the same way).
 *
 * Throws `VerificationError("pcr-values-missing")` if a selected PCR has no
 * value, and `MalformedError("bad-length")` if a value is not exactly its
 * bank's digest size: without that check, values of shifted lengths could
 * concatenate to the same bytes and "verify" PCR values the TPM never had.
 *
 * @example
 * ```ts
 * const digest = pcrDigest("sha256", quote.pcrSelect, values);
 * ```
 */
export function pcrDigest(hashAlg: HashAlg, selection: PcrSelection, values: PcrValues): Uint8Array {
  return hash(hashAlg, ...selectedValues(selection, values));
}

/**
 * The selected PCR values in selection order, each checked for presence and
 * size (see {@link pcrDigest}). Internal to the quote verifier and the digest.
 */
export function selectedValues(selection: PcrSelection, values: PcrValues): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const bank of selection) {
    const bankValues = values.get(bank.hash);
    const size = digestSize(bank.hash);
    for (const pcr of bank.pcrs) {
      const value = bankValues?.get(pcr);
      if (value === undefined) {
        throw new VerificationError("pcr-values-missing", `no value for a selected PCR (${bank.hash} ${pcr})`);
      }
      if (value.length !== size) {
        throw new MalformedError("bad-length", `PcrValues.${bank.hash}[${pcr}]`, `expected ${size} bytes`);
      }
      out.push(value);
    }
  }
  return out;
}

/**
 * Decode the PCR values file of `tpm2_quote -o FILE -F values` (tpm2-tools):
 * the selected PCR values concatenated in selection order (banks in order,
 * PCRs ascending), each as long as its bank's digest. The file must be
 * exactly that long.
 *
 * @example
 * ```ts
 * const values = decodePcrValuesFile(readFileSync("pcrs.bin"), quote.pcrSelect);
 * values.get("sha256")?.get(16); // PCR 16 of the SHA-256 bank
 * ```
 */
export function decodePcrValuesFile(bytes: Uint8Array, selection: PcrSelection): PcrValues {
  const r = new ByteReader(bytes, "PcrValuesFile");
  const out = new Map<HashAlg, ReadonlyMap<number, Uint8Array>>();
  for (const bank of selection) {
    if (out.has(bank.hash)) throw new MalformedError("bad-value", "PcrValuesFile.selection", "bank selected twice");
    const size = digestSize(bank.hash);
    const bankValues = new Map<number, Uint8Array>();
    for (const pcr of bank.pcrs) bankValues.set(pcr, r.bytes(size, `${bank.hash}[${pcr}]`));
    out.set(bank.hash, bankValues);
  }
  r.end();
  return out;
}
