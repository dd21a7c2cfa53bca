/**
 * TPMT_PUBLIC and TPM2B_PUBLIC (TPM 2.0 Part 2 §12.2.4, §12.2.5) for RSA and
 * ECC keys: a strict decoder and an encoder. Other object types (KEYEDHASH,
 * SYMCIPHER) are `unsupported`. Decoding does no cryptography beyond the
 * object's Name; see ./public-key.ts for the key itself.
 */
import {
  ByteReader,
  ByteWriter,
  digestSize,
  type HashAlg,
  MalformedError,
  TPM_ALG,
  TPM_ECC,
  TPMA_OBJECT_RESERVED,
} from "@veritee/core";
import { objectName } from "./name.js";
import { idOf, invert, lookup, MAX_DIGEST_SIZE, MAX_RSA_KEY_BYTES, readHashAlg, writeHashAlg } from "./wire.js";

/** Block-cipher modes of TPMI_ALG_SYM_MODE (Part 2 §9.31), plus TPM_ALG_NULL. */
export type SymMode = "ctr" | "ofb" | "cbc" | "cfb" | "ecb" | "null";

/**
 * TPMT_SYM_DEF_OBJECT (Part 2 §11.1.7): the symmetric algorithm of a storage
 * key, or TPM_ALG_NULL for any other key (AKs have NULL). Only AES is decoded.
 */
export type SymDefObject =
  | { readonly algorithm: "null" }
  | { readonly algorithm: "aes"; readonly keyBits: 128 | 192 | 256; readonly mode: SymMode };

/** TPMT_RSA_SCHEME (Part 2 §11.2.4.2): an RSA key's scheme, with its hash where it has one. */
export type RsaScheme =
  | { readonly scheme: "null" }
  | { readonly scheme: "rsaes" }
  | { readonly scheme: "rsassa" | "rsapss" | "oaep"; readonly hash: HashAlg };

/** TPMT_ECC_SCHEME (Part 2 §11.2.5.6): an ECC key's scheme, with its hash (and ECDAA count). */
export type EccScheme =
  | { readonly scheme: "null" }
  | { readonly scheme: "ecdsa" | "ecdh" | "ecschnorr" | "sm2" | "ecmqv"; readonly hash: HashAlg }
  | { readonly scheme: "ecdaa"; readonly hash: HashAlg; readonly count: number };

/** TPMT_KDF_SCHEME (Part 2 §11.2.3.3): the KDF of an ECC key (NULL for signing keys). */
export type KdfScheme =
  | { readonly scheme: "null" }
  | { readonly scheme: "mgf1" | "kdf1-sp800-56a" | "kdf2" | "kdf1-sp800-108"; readonly hash: HashAlg };

/** The ECC curves we decode (TPM_ECC_CURVE, Part 2 §6.4). */
export type EccCurve = "p256" | "p384" | "p521";

/** Fields common to RSA and ECC TPMT_PUBLIC. */
interface TpmtPublicCommon {
  /** The object's nameAlg (never NULL for the keys we decode). */
  readonly nameAlg: HashAlg;
  /** TPMA_OBJECT bits (Part 2 §8.3); see `TPMA_OBJECT` in `@veritee/core`. */
  readonly objectAttributes: number;
  /** The authorization policy digest: empty, or exactly one nameAlg digest. */
  readonly authPolicy: Uint8Array;
  /** The symmetric definition of the parameters (TPM_ALG_NULL for non-storage keys). */
  readonly symmetric: SymDefObject;
}

/** An RSA TPMT_PUBLIC: TPMS_RSA_PARMS (Part 2 §12.2.3.5) and the modulus. */
export interface RsaTpmtPublic extends TpmtPublicCommon {
  readonly type: "rsa";
  readonly scheme: RsaScheme;
  /** 1024, 2048, 3072 or 4096. */
  readonly keyBits: number;
  /** The exponent as on the wire: 0 means the default, 65537 (Part 2 §12.2.3.5). */
  readonly exponent: number;
  /** The modulus, big-endian, exactly `keyBits / 8` bytes (TPM2B_PUBLIC_KEY_RSA). */
  readonly modulus: Uint8Array;
}

/** An ECC TPMT_PUBLIC: TPMS_ECC_PARMS (Part 2 §12.2.3.6) and the point (TPMS_ECC_POINT). */
export interface EccTpmtPublic extends TpmtPublicCommon {
  readonly type: "ecc";
  readonly scheme: EccScheme;
  readonly curve: EccCurve;
  readonly kdf: KdfScheme;
  /** The x coordinate, big-endian, at most the curve's size. */
  readonly x: Uint8Array;
  /** The y coordinate, big-endian, at most the curve's size. */
  readonly y: Uint8Array;
}

/** A TPMT_PUBLIC of an RSA or ECC key, as the encoder takes it. */
export type TpmtPublic = RsaTpmtPublic | EccTpmtPublic;

/** A decoded TPMT_PUBLIC with its exact bytes and its Name. */
export type DecodedTpmtPublic = TpmtPublic & {
  /** The marshalled TPMT_PUBLIC exactly as decoded (without the TPM2B size). */
  readonly raw: Uint8Array;
  /** The object's Name: nameAlg || H_nameAlg(raw) (Part 1 §16). */
  readonly name: Uint8Array;
};

const SYM_MODES: ReadonlyMap<number, SymMode> = new Map<number, SymMode>([
  [TPM_ALG.CTR, "ctr"],
  [TPM_ALG.OFB, "ofb"],
  [TPM_ALG.CBC, "cbc"],
  [TPM_ALG.CFB, "cfb"],
  [TPM_ALG.ECB, "ecb"],
  [TPM_ALG.NULL, "null"],
]);
const SYM_MODE_IDS = invert(SYM_MODES);

type RsaSchemeName = RsaScheme["scheme"];
const RSA_SCHEMES: ReadonlyMap<number, RsaSchemeName> = new Map<number, RsaSchemeName>([
  [TPM_ALG.RSASSA, "rsassa"],
  [TPM_ALG.RSAES, "rsaes"],
  [TPM_ALG.RSAPSS, "rsapss"],
  [TPM_ALG.OAEP, "oaep"],
  [TPM_ALG.NULL, "null"],
]);
const RSA_SCHEME_IDS = invert(RSA_SCHEMES);

/** TPM_ALG_ECMQV (Part 2 §6.3), absent from core's table. */
const TPM_ALG_ECMQV = 0x001d;

type EccSchemeName = EccScheme["scheme"];
const ECC_SCHEMES: ReadonlyMap<number, EccSchemeName> = new Map<number, EccSchemeName>([
  [TPM_ALG.ECDSA, "ecdsa"],
  [TPM_ALG.ECDH, "ecdh"],
  [TPM_ALG.ECDAA, "ecdaa"],
  [TPM_ALG.SM2, "sm2"],
  [TPM_ALG.ECSCHNORR, "ecschnorr"],
  [TPM_ALG_ECMQV, "ecmqv"],
  [TPM_ALG.NULL, "null"],
]);
const ECC_SCHEME_IDS = invert(ECC_SCHEMES);

type KdfSchemeName = KdfScheme["scheme"];
const KDF_SCHEMES: ReadonlyMap<number, KdfSchemeName> = new Map<number, KdfSchemeName>([
  [0x0007, "mgf1"],
  [TPM_ALG.KDF1_SP800_56A, "kdf1-sp800-56a"],
  [0x0021, "kdf2"],
  [TPM_ALG.KDF1_SP800_108, "kdf1-sp800-108"],
  [TPM_ALG.NULL, "null"],
]);
const KDF_SCHEME_IDS = invert(KDF_SCHEMES);

const CURVES: ReadonlyMap<number, EccCurve> = new Map<number, EccCurve>([
  [TPM_ECC.NIST_P256, "p256"],
  [TPM_ECC.NIST_P384, "p384"],
  [TPM_ECC.NIST_P521, "p521"],
]);
const CURVE_IDS = invert(CURVES);

/** Size in bytes of a curve's field elements (and of each ECDSA r and s). */
export function curveByteSize(curve: EccCurve): number {
  return curve === "p256" ? 32 : curve === "p384" ? 48 : 66;
}

const RSA_KEY_BITS: ReadonlySet<number> = new Set([1024, 2048, 3072, 4096]);

/**
 * Read a TPMT_PUBLIC from `r`, which must hold exactly it. `raw` is the whole
 * of `r`'s bytes, kept for the Name.
 */
function readTpmtPublic(r: ByteReader, raw: Uint8Array): DecodedTpmtPublic {
  // TPMI_ALG_PUBLIC (Part 2 §12.2.2): we decode RSA and ECC only.
  const typeId = r.u16("type");
  if (typeId !== TPM_ALG.RSA && typeId !== TPM_ALG.ECC) {
    throw new MalformedError("unsupported", `${r.what}.type`, "object type");
  }
  // TPMI_ALG_HASH+ allows NULL only for objects without a Name (Part 2
  // §12.2.4); a key we verify with must have one.
  const nameAlg = readHashAlg(r, "nameAlg");
  const objectAttributes = r.u32("objectAttributes");
  if ((objectAttributes & TPMA_OBJECT_RESERVED) !== 0) {
    throw new MalformedError("reserved-nonzero", `${r.what}.objectAttributes`, "reserved bits set");
  }
  // TPM2B_DIGEST; a TPM only accepts an empty policy or one of nameAlg's size
  // (Part 3 §12.1 TPM2_Create, TPM_RC_SIZE), so anything else was not made by one.
  const authPolicy = r.tpm2b("authPolicy", MAX_DIGEST_SIZE);
  if (authPolicy.length !== 0 && authPolicy.length !== digestSize(nameAlg)) {
    throw new MalformedError("bad-length", `${r.what}.authPolicy`, "neither empty nor a nameAlg digest");
  }
  const symmetric = readSymDefObject(r);
  let out: TpmtPublic;
  if (typeId === TPM_ALG.RSA) {
    const scheme = readRsaScheme(r);
    const keyBits = r.u16("parameters.keyBits");
    if (!RSA_KEY_BITS.has(keyBits)) throw new MalformedError("unsupported", `${r.what}.parameters.keyBits`, "key size");
    const exponent = r.u32("parameters.exponent");
    // 0 means 65537 (Part 2 §12.2.3.5). An even exponent or one below 3 is no
    // RSA key; e = 1 would make every signature trivially forgeable.
    if (exponent !== 0 && (exponent < 3 || exponent % 2 === 0)) {
      throw new MalformedError("bad-value", `${r.what}.parameters.exponent`, "not an RSA public exponent");
    }
    const modulus = r.tpm2b("unique.rsa", MAX_RSA_KEY_BYTES);
    if (modulus.length !== keyBits / 8) {
      throw new MalformedError("bad-length", `${r.what}.unique.rsa`, "modulus size is not keyBits / 8");
    }
    out = { type: "rsa", nameAlg, objectAttributes, authPolicy, symmetric, scheme, keyBits, exponent, modulus };
  } else {
    const scheme = readEccScheme(r);
    const curve = lookup(CURVES, r.u16("parameters.curveID"), r, "parameters.curveID");
    const kdf = readKdfScheme(r);
    // TPMS_ECC_POINT (Part 2 §11.2.5.2): each coordinate at most the curve's size.
    const size = curveByteSize(curve);
    const x = r.tpm2b("unique.ecc.x", size);
    const y = r.tpm2b("unique.ecc.y", size);
    out = { type: "ecc", nameAlg, objectAttributes, authPolicy, symmetric, scheme, curve, kdf, x, y };
  }
  r.end();
  return Object.freeze({ ...out, raw, name: objectName(nameAlg, raw) });
}

function readSymDefObject(r: ByteReader): SymDefObject {
  const algorithm = r.u16("parameters.symmetric.algorithm");
  if (algorithm === TPM_ALG.NULL) return { algorithm: "null" };
  if (algorithm !== TPM_ALG.AES) {
    throw new MalformedError("unsupported", `${r.what}.parameters.symmetric.algorithm`, "symmetric algorithm");
  }
  const keyBits = r.u16("parameters.symmetric.keyBits");
  if (keyBits !== 128 && keyBits !== 192 && keyBits !== 256) {
    throw new MalformedError("bad-value", `${r.what}.parameters.symmetric.keyBits`, "AES key size");
  }
  const mode = lookup(SYM_MODES, r.u16("parameters.symmetric.mode"), r, "parameters.symmetric.mode");
  return { algorithm: "aes", keyBits, mode };
}

function readRsaScheme(r: ByteReader): RsaScheme {
  const scheme = lookup(RSA_SCHEMES, r.u16("parameters.scheme.scheme"), r, "parameters.scheme.scheme");
  if (scheme === "null" || scheme === "rsaes") return { scheme };
  return { scheme, hash: readHashAlg(r, "parameters.scheme.hashAlg") };
}

function readEccScheme(r: ByteReader): EccScheme {
  const scheme = lookup(ECC_SCHEMES, r.u16("parameters.scheme.scheme"), r, "parameters.scheme.scheme");
  if (scheme === "null") return { scheme };
  const hash = readHashAlg(r, "parameters.scheme.hashAlg");
  // TPMS_SCHEME_ECDAA carries a count after the hash (Part 2 §11.2.1.3).
  if (scheme === "ecdaa") return { scheme, hash, count: r.u16("parameters.scheme.count") };
  return { scheme, hash };
}

function readKdfScheme(r: ByteReader): KdfScheme {
  const scheme = lookup(KDF_SCHEMES, r.u16("parameters.kdf.scheme"), r, "parameters.kdf.scheme");
  if (scheme === "null") return { scheme };
  return { scheme, hash: readHashAlg(r, "parameters.kdf.hashAlg") };
}

/**
 * Decode a marshalled TPMT_PUBLIC (Part 2 §12.2.4) that fills `bytes` exactly.
 * Structural checks only: no trust is implied.
 *
 * @example
 * ```ts
 * const pub = decodeTpmtPublic(tpmtBytes);
 * if (pub.type === "ecc") console.log(pub.curve, toHex(pub.name));
 * ```
 */
export function decodeTpmtPublic(bytes: Uint8Array): DecodedTpmtPublic {
  const raw = bytes.slice();
  return readTpmtPublic(new ByteReader(raw, "TPMT_PUBLIC"), raw);
}

/**
 * Decode a TPM2B_PUBLIC (Part 2 §12.2.5): a u16 size, then a TPMT_PUBLIC of
 * exactly that size; nothing may follow. This is what `tpm2_createak -u`
 * writes and what TPM2_CreatePrimary / TPM2_ReadPublic return.
 *
 * @example
 * ```ts
 * const ak = decodeTpm2bPublic(readFileSync("ak.pub"));
 * ```
 */
export function decodeTpm2bPublic(bytes: Uint8Array): DecodedTpmtPublic {
  const outer = new ByteReader(bytes, "TPM2B_PUBLIC");
  const size = outer.u16("size");
  if (size === 0) throw new MalformedError("bad-length", "TPM2B_PUBLIC.size", "empty public area");
  const raw = outer.bytes(size, "publicArea");
  outer.end();
  return readTpmtPublic(new ByteReader(raw, "TPM2B_PUBLIC.publicArea"), raw);
}

/** Write a TPMT_PUBLIC to `w` (no validation beyond what the wire format needs). */
export function writeTpmtPublic(w: ByteWriter, pub: TpmtPublic): void {
  w.u16(pub.type === "rsa" ? TPM_ALG.RSA : TPM_ALG.ECC);
  writeHashAlg(w, pub.nameAlg);
  w.u32(pub.objectAttributes);
  w.tpm2b(pub.authPolicy);
  const sym = pub.symmetric;
  if (sym.algorithm === "null") {
    w.u16(TPM_ALG.NULL);
  } else {
    w.u16(TPM_ALG.AES).u16(sym.keyBits).u16(idOf(SYM_MODE_IDS, sym.mode));
  }
  if (pub.type === "rsa") {
    w.u16(idOf(RSA_SCHEME_IDS, pub.scheme.scheme));
    if ("hash" in pub.scheme) writeHashAlg(w, pub.scheme.hash);
    w.u16(pub.keyBits).u32(pub.exponent);
    w.tpm2b(pub.modulus);
  } else {
    w.u16(idOf(ECC_SCHEME_IDS, pub.scheme.scheme));
    if ("hash" in pub.scheme) writeHashAlg(w, pub.scheme.hash);
    if ("count" in pub.scheme) w.u16(pub.scheme.count);
    w.u16(idOf(CURVE_IDS, pub.curve));
    w.u16(idOf(KDF_SCHEME_IDS, pub.kdf.scheme));
    if ("hash" in pub.kdf) writeHashAlg(w, pub.kdf.hash);
    w.tpm2b(pub.x).tpm2b(pub.y);
  }
}

/**
 * Encode a TPMT_PUBLIC. The encoder writes what it is given (tests use it to
 * forge keys with wrong attributes); `decodeTpmtPublic(encodeTpmtPublic(p))`
 * returns `p` for every structure the decoder accepts.
 */
export function encodeTpmtPublic(pub: TpmtPublic): Uint8Array {
  const w = new ByteWriter();
  writeTpmtPublic(w, pub);
  return w.finish();
}

/** Encode a TPM2B_PUBLIC: the TPMT_PUBLIC with its u16 size. */
export function encodeTpm2bPublic(pub: TpmtPublic): Uint8Array {
  return new ByteWriter().tpm2b(encodeTpmtPublic(pub)).finish();
}
