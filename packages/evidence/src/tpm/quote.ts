/**
 * TPM2_Quote verification (TPM 2.0 Part 3 §18.4): the AK's attributes, the
 * signature over the exact TPMS_ATTEST bytes, the quote type, the nonce and
 * the PCR digest. Returns a {@link VerifiedQuote}, which only this module makes.
 */
import {
  base64urlDecode,
  bytesEqual,
  concatBytes,
  digestSize,
  type HashAlg,
  hash,
  importPublicJwk,
  MalformedError,
  type PublicKeyHandle,
  type SignatureScheme,
  TPMA_OBJECT,
  verifySignature,
} from "@veritee/core";
import { VerificationError } from "../errors.js";
import { AkPublic, akPublicFromDecoded, decodeAkPublic } from "./ak.js";
import { type ClockInfo, decodeTpmsAttest, type QuoteAttest, type TpmsAttest } from "./attest.js";
import type { PcrSelection, PcrValues } from "./pcr-selection.js";
import { selectedValues } from "./pcr-selection.js";
import { curveByteSize, type DecodedTpmtPublic, type TpmtPublic } from "./public.js";
import { decodeTpmtSignatureView, type TpmtSignature } from "./signature.js";

/** What {@link verifyQuote} checks. */
export interface VerifyQuoteInput {
  /**
   * The AK: TPM2B_PUBLIC bytes, a decoded public area, or (fastest, for many
   * quotes) an {@link AkPublic} from `decodeAkPublic`, whose key is imported once.
   */
  readonly akPublic: Uint8Array | AkPublic | DecodedTpmtPublic;
  /** The TPMS_ATTEST bytes exactly as the TPM signed them (`tpm2_quote -m`). */
  readonly attest: Uint8Array;
  /** The TPMT_SIGNATURE bytes (`tpm2_quote -s`, tss format). */
  readonly signature: Uint8Array;
  /** The qualifying data the verifier asked for (its fresh nonce); compared in constant time. */
  readonly expectedExtraData: Uint8Array;
  /** The PCR values the attester claims; checked against the signed PCR digest when given. */
  readonly pcrValues?: PcrValues;
  /** Fail with `pcr-values-missing` when `pcrValues` is not given (default false). */
  readonly requirePcrValues?: boolean;
  /**
   * The AK Name the caller already trusts (from credential activation or a
   * registrar); when given, a different AK fails with `name-mismatch`. Without
   * it, the caller must bind {@link VerifiedQuote.akName} (or the key) itself:
   * the signature proves only that the key in `akPublic` signed.
   */
  readonly expectedAkName?: Uint8Array;
}

const TOKEN: unique symbol = Symbol("VerifiedQuote");

/**
 * What a verified quote attests — contents, signature hash and PCR values —
 * whichever way its signing key came to be trusted: a {@link VerifiedQuote}
 * (an AK public area, checked as an AK) or a {@link VerifiedKeyQuote} (a
 * bare key that other evidence vouches for). Only this module makes one.
 */
export class VerifiedQuoteContents {
  readonly #contents = true;
  /** The decoded TPMS_ATTEST of type quote, as signed. */
  readonly attest: QuoteAttest;
  /** The hash of the signing scheme, which is also the hash of the PCR digest (Part 3 §18.4). */
  readonly signatureHash: HashAlg;
  /** A private copy of the verified PCR values, concatenated in selection order. */
  readonly #pcrBytes: Uint8Array | undefined;
  /** The map view of #pcrBytes, made on first use (private fields stay writable on a frozen object). */
  #pcrValues: PcrValues | undefined;

  /** Not for callers: use {@link verifyQuote} or {@link verifyQuoteWithKey}. Subclasses freeze. */
  constructor(
    token: typeof TOKEN,
    init: { attest: QuoteAttest; signatureHash: HashAlg; pcrBytes: Uint8Array | undefined },
  ) {
    if (token !== TOKEN) throw new TypeError("a verified quote is made by verifyQuote or verifyQuoteWithKey");
    this.attest = init.attest;
    this.signatureHash = init.signatureHash;
    this.#pcrBytes = init.pcrBytes;
  }

  /**
   * The selected PCR values, only when `pcrValues` was given and matched the
   * signed digest: exactly the selected PCRs (no others), copied at
   * verification time so later changes to the caller's values do not show.
   */
  get pcrValues(): PcrValues | undefined {
    if (this.#pcrValues === undefined && this.#pcrBytes !== undefined) {
      this.#pcrValues = splitPcrValues(this.attest.attested.pcrSelect, this.#pcrBytes);
    }
    return this.#pcrValues;
  }

  /** The qualifying data the TPM signed (equal to the expected nonce). */
  get extraData(): Uint8Array {
    return this.attest.extraData;
  }
  /** The quoted PCR selection, banks in order. */
  get pcrSelection(): PcrSelection {
    return this.attest.attested.pcrSelect;
  }
  /** The signed PCR digest (hash {@link signatureHash}). */
  get pcrDigest(): Uint8Array {
    return this.attest.attested.pcrDigest;
  }
  /** The TPM's clock, reset and restart counters. */
  get clockInfo(): ClockInfo {
    return this.attest.clockInfo;
  }
  /** The TPM's firmware version. */
  get firmwareVersion(): bigint {
    return this.attest.firmwareVersion;
  }
  /** The qualified Name of the signing key, as the TPM reported it. */
  get qualifiedSigner(): Uint8Array {
    return this.attest.qualifiedSigner;
  }

  /** True only for values made by {@link verifyQuote} or {@link verifyQuoteWithKey} (not for look-alikes). */
  static is(value: unknown): value is VerifiedQuoteContents {
    return typeof value === "object" && value !== null && #contents in value;
  }
}

/**
 * A quote whose every check passed. Only {@link verifyQuote} makes one, so a
 * value of this type is proof that the checks ran; policy code should accept
 * nothing else. It says that the TPM holding this AK signed these contents; it
 * does not say that the AK belongs to a genuine TPM (the AK certificate or
 * credential activation shows that) nor that the PCR values are good (policy).
 */
export class VerifiedQuote extends VerifiedQuoteContents {
  readonly #brand = true;
  /** The AK's decoded public area. */
  readonly akPublic: DecodedTpmtPublic;
  /** The AK's Name (nameAlg || H(TPMT_PUBLIC)), to match against an AK certificate or credential activation. */
  readonly akName: Uint8Array;

  /** Not for callers: use {@link verifyQuote}. */
  constructor(
    token: typeof TOKEN,
    init: {
      attest: QuoteAttest;
      akPublic: DecodedTpmtPublic;
      signatureHash: HashAlg;
      pcrBytes: Uint8Array | undefined;
    },
  ) {
    if (token !== TOKEN) throw new TypeError("VerifiedQuote is made by verifyQuote");
    super(token, init);
    this.akPublic = init.akPublic;
    this.akName = init.akPublic.name;
    Object.freeze(this);
  }

  /** True only for values made by {@link verifyQuote} (not for look-alikes). */
  static override is(value: unknown): value is VerifiedQuote {
    return typeof value === "object" && value !== null && #brand in value;
  }
}

/**
 * A quote verified under a bare public key the caller trusts through other
 * evidence ({@link verifyQuoteWithKey}). There is no TPM public area, so no
 * AK Name and no object attributes were checked: whoever vouches for the key
 * vouches that it is a restricted TPM signing key.
 */
export class VerifiedKeyQuote extends VerifiedQuoteContents {
  readonly #keyBrand = true;
  /** The key the quote verified under, as given (a copy). */
  readonly key: JsonWebKey;

  /** Not for callers: use {@link verifyQuoteWithKey}. */
  constructor(
    token: typeof TOKEN,
    init: { attest: QuoteAttest; key: JsonWebKey; signatureHash: HashAlg; pcrBytes: Uint8Array | undefined },
  ) {
    if (token !== TOKEN) throw new TypeError("VerifiedKeyQuote is made by verifyQuoteWithKey");
    super(token, init);
    this.key = Object.freeze({ ...init.key });
    Object.freeze(this);
  }

  /** True only for values made by {@link verifyQuoteWithKey} (not for look-alikes). */
  static override is(value: unknown): value is VerifiedKeyQuote {
    return typeof value === "object" && value !== null && #keyBrand in value;
  }
}

/**
 * The attributes TCG requires of an attestation key (the AK templates of TCG
 * "TPM 2.0 Keys for Device Identity and Attestation"): restricted, so
 * that it only signs structures the TPM made (TPMS_ATTEST starting with
 * TPM_GENERATED_VALUE); a signing key that cannot decrypt; and fixed to this
 * TPM with a TPM-generated secret, so it cannot have been imported.
 */
const AK_REQUIRED =
  TPMA_OBJECT.restricted |
  TPMA_OBJECT.sign |
  TPMA_OBJECT.fixedTPM |
  TPMA_OBJECT.fixedParent |
  TPMA_OBJECT.sensitiveDataOrigin;

/** RSA keys shorter than this are too weak to trust (NIST SP 800-57 Part 1 §5.6.1). */
const MIN_RSA_BITS = 2048;

function toAkPublic(ak: VerifyQuoteInput["akPublic"]): AkPublic {
  if (ak instanceof Uint8Array) return decodeAkPublic(ak);
  if (AkPublic.is(ak)) return ak;
  return akPublicFromDecoded(ak);
}

/**
 * What steps 2–3 need of the signing key: its type, its own scheme (NULL
 * when it has none, or when only a bare key is known) and, for ECC, the
 * curve's size.
 */
type SigningKeyShape =
  | { readonly type: "rsa"; readonly scheme: TpmtPublic["scheme"] }
  | { readonly type: "ecc"; readonly scheme: TpmtPublic["scheme"]; readonly curveBytes: number };

function shapeOf(key: TpmtPublic): SigningKeyShape {
  return key.type === "ecc"
    ? { type: "ecc", scheme: key.scheme, curveBytes: curveByteSize(key.curve) }
    : { type: "rsa", scheme: key.scheme };
}

/**
 * The signature scheme to verify with, after checking that the signature's
 * scheme fits the key: ECDSA for ECC keys, RSASSA or RSAPSS for RSA keys, and
 * exactly the key's own scheme and hash when the key has one (a TPM signs a
 * quote with the key's scheme when it is not NULL and refuses any other,
 * Part 3 §18.4 TPM_RC_SCHEME; CryptSelectSignScheme in the reference code).
 */
function schemeFor(key: SigningKeyShape, sig: TpmtSignature): SignatureScheme {
  const fits = key.type === "ecc" ? sig.sigAlg === "ecdsa" : sig.sigAlg === "rsassa" || sig.sigAlg === "rsapss";
  if (!fits) throw new VerificationError("signature-scheme-mismatch", "signature algorithm does not fit the AK type");
  const keyScheme = key.scheme;
  if (
    keyScheme.scheme !== "null" &&
    (keyScheme.scheme !== sig.sigAlg || !("hash" in keyScheme) || keyScheme.hash !== sig.hash)
  ) {
    throw new VerificationError("signature-scheme-mismatch", "signature scheme differs from the AK's scheme");
  }
  // SHA-1 signatures are refused: whoever calls TPM2_Quote picks extraData,
  // so a SHA-1 chosen-prefix collision ("SHA-1 is a Shambles", 2020) could
  // pair a TPM-signed TPMS_ATTEST with a forged one of the same digest.
  if (sig.hash === "sha1") throw new VerificationError("unsupported-algorithm", "SHA-1 signatures are not accepted");
  switch (sig.sigAlg) {
    case "ecdsa":
      return { kind: "ecdsa", hash: sig.hash };
    case "rsassa":
      return { kind: "rsassa-pkcs1", hash: sig.hash };
    case "rsapss":
      // No salt length: core then tries the digest length and the maximum, since TPMs differ
      // (see core's verifySignature).
      return { kind: "rsa-pss", hash: sig.hash };
  }
}

/**
 * The signature bytes for the backend: the RSA signature as is, or ECDSA r||s
 * each left-padded to the curve's size (IEEE P1363). Undefined for an r or s
 * longer than the curve allows, which cannot be a valid signature.
 */
function signatureBytes(key: SigningKeyShape, sig: TpmtSignature): Uint8Array | undefined {
  if (sig.sigAlg !== "ecdsa") return sig.sig;
  if (key.type !== "ecc") return undefined;
  const size = key.curveBytes;
  const out = new Uint8Array(2 * size);
  if (!placeScalar(out, 0, size, sig.r) || !placeScalar(out, size, size, sig.s)) return undefined;
  return out;
}

/** Copy big-endian `v` right-aligned into `out[offset, offset + size)`; leading zero bytes may be dropped. */
function placeScalar(out: Uint8Array, offset: number, size: number, v: Uint8Array): boolean {
  let start = 0;
  while (start < v.length && v[start] === 0) start++;
  const len = v.length - start;
  if (len > size) return false;
  out.set(start === 0 ? v : v.subarray(start), offset + size - len);
  return true;
}

/**
 * Verify a TPM2_Quote. The steps, in order, each with its error code:
 *
 * 0. decode the AK public area, TPMS_ATTEST and TPMT_SIGNATURE strictly
 *    (`MalformedError`);
 * 1. the AK has the expected Name if one is given (`name-mismatch`), is a
 *    restricted signing key fixed to its TPM (`ak-attributes`), and an RSA AK
 *    has at least 2048 bits (`unsupported-algorithm`);
 * 2. the signature's scheme fits the AK (`signature-scheme-mismatch`; SHA-1:
 *    `unsupported-algorithm`);
 * 3. the signature over the exact TPMS_ATTEST bytes (`signature-invalid`);
 * 4. the attestation is a quote (`attest-type`);
 * 5. extraData equals `expectedExtraData`, in constant time (`nonce-mismatch`);
 * 6. when `pcrValues` is given: every selected PCR has a value
 *    (`pcr-values-missing`) and their digest equals the signed one
 *    (`pcr-digest-mismatch`); without `pcrValues`, `requirePcrValues` fails
 *    with `pcr-values-missing`.
 *
 * The PCR digest uses the hash of the signing scheme, not the AK's nameAlg nor
 * a PCR bank's hash: TPM2_Quote digests the selected PCRs with the hash
 * algorithm of the selected signing scheme, and fails with TPM_RC_SCHEME when
 * that is NULL (Part 3 §18.4.1; the reference implementation passes
 * `inScheme.details.any.hashAlg` to PCRComputeCurrentDigest). The verified
 * signature carries that hash. A P-384 AK signing with SHA-384 over SHA-256
 * PCRs therefore yields a SHA-384 pcrDigest (the swtpm interop test checks it).
 *
 * @example
 * ```ts
 * const ak = decodeAkPublic(akPubBytes);
 * const quote = await verifyQuote({ akPublic: ak, attest, signature, expectedExtraData: nonce, pcrValues });
 * quote.pcrValues?.get("sha256")?.get(0);
 * ```
 */
export async function verifyQuote(input: VerifyQuoteInput): Promise<VerifiedQuote> {
  // 0. Decode. The attest bytes are not copied: decoding and the call to the
  // signature backend happen in one synchronous run, with no await between
  // them, and the backend reads (WebCrypto: copies) its input at the call, so
  // the bytes decoded are the bytes verified. The signature is decoded as
  // views for the same reason; it never leaves this function.
  const ak = toAkPublic(input.akPublic);
  const attestBytes = input.attest;
  const attest = decodeTpmsAttest(attestBytes);
  const signature = decodeTpmtSignatureView(input.signature);
  const key = ak.public;

  // 1. The AK: the expected one, if the caller pinned it, with AK attributes.
  if (input.expectedAkName !== undefined && !bytesEqual(ak.name, input.expectedAkName)) {
    throw new VerificationError("name-mismatch", "AK Name is not the expected one");
  }
  const attrs = key.objectAttributes;
  if ((attrs & AK_REQUIRED) !== AK_REQUIRED || (attrs & TPMA_OBJECT.decrypt) !== 0) {
    throw new VerificationError("ak-attributes", "AK is not a restricted, fixed, TPM-generated signing key");
  }
  if (key.type === "rsa" && key.keyBits < MIN_RSA_BITS) {
    throw new VerificationError("unsupported-algorithm", "RSA AK shorter than 2048 bits");
  }

  const checked = await checkSignedQuote(shapeOf(key), ak.key, attestBytes, attest, signature, input);
  return new VerifiedQuote(TOKEN, { ...checked, akPublic: key });
}

/**
 * Steps 2–6 of {@link verifyQuote}, shared with {@link verifyQuoteWithKey}:
 * scheme, signature over the exact bytes, type, nonce, PCR values. Decoding
 * and the backend call stay in one synchronous run (see step 0).
 */
async function checkSignedQuote(
  key: SigningKeyShape,
  handle: PublicKeyHandle,
  attestBytes: Uint8Array,
  attest: TpmsAttest,
  signature: TpmtSignature,
  input: Pick<VerifyQuoteInput, "expectedExtraData" | "pcrValues" | "requirePcrValues">,
): Promise<{ attest: QuoteAttest; signatureHash: HashAlg; pcrBytes: Uint8Array | undefined }> {
  // 2. Scheme.
  const scheme = schemeFor(key, signature);

  // 3. Signature over the exact TPMS_ATTEST bytes, hashed with the signature's hash.
  const sigBytes = signatureBytes(key, signature);
  if (sigBytes === undefined || !(await verifySignature(scheme, handle, attestBytes, sigBytes))) {
    throw new VerificationError("signature-invalid", "quote signature does not verify with the AK");
  }

  // 4. Type: a restricted key also signs certify, time and audit structures.
  if (attest.attested.type !== "quote") {
    throw new VerificationError("attest-type", "attestation is not a quote");
  }
  const quote = attest as QuoteAttest;

  // 5. Freshness: the verifier's nonce.
  if (!bytesEqual(quote.extraData, input.expectedExtraData)) {
    throw new VerificationError("nonce-mismatch", "extraData is not the expected nonce");
  }

  // 6. PCR values against the signed digest.
  let pcrBytes: Uint8Array | undefined;
  if (input.pcrValues !== undefined) {
    pcrBytes = checkPcrValues(quote, signature.hash, input.pcrValues);
  } else if (input.requirePcrValues === true) {
    throw new VerificationError("pcr-values-missing", "PCR values are required");
  }

  return { attest: quote, signatureHash: signature.hash, pcrBytes };
}

/** What {@link verifyQuoteWithKey} checks. */
export interface VerifyQuoteWithKeyInput {
  /**
   * The signing key as a JWK (RSA `n`/`e`, or EC `crv`/`x`/`y`), trusted by
   * the caller through other evidence — e.g. an Azure HCL report's
   * `HCLAkPub`, bound by a hardware-signed report.
   */
  readonly key: JsonWebKey;
  /** The TPMS_ATTEST bytes exactly as the TPM signed them. */
  readonly attest: Uint8Array;
  /** The TPMT_SIGNATURE bytes. */
  readonly signature: Uint8Array;
  /** The qualifying data the verifier asked for; compared in constant time. */
  readonly expectedExtraData: Uint8Array;
  /** The PCR values the attester claims; checked against the signed PCR digest when given. */
  readonly pcrValues?: PcrValues;
  /** Fail with `pcr-values-missing` when `pcrValues` is not given (default false). */
  readonly requirePcrValues?: boolean;
}

const JWK_CURVE_BYTES: Readonly<Record<string, number>> = { "P-256": 32, "P-384": 48, "P-521": 66 };

/** The number of significant bits of a big-endian unsigned integer. */
function bitLength(v: Uint8Array): number {
  let i = 0;
  while (i < v.length && v[i] === 0) i++;
  if (i === v.length) return 0;
  return (v.length - i - 1) * 8 + (32 - Math.clz32(v[i]!));
}

/**
 * Verify a TPM2_Quote under a bare public key that the caller trusts by
 * other means, for evidence that carries no TPM public area (Azure's
 * `az-cvm-vtpm` JSON: the AK comes from the HCL report's runtime claims).
 * Steps 2–6 of {@link verifyQuote} exactly; step 1 has nothing to check
 * but the key size (RSA at least 2048 bits, `unsupported-algorithm`): there
 * is no Name and no object attributes, so whoever vouches for the key
 * vouches that it is a restricted TPM signing key — a key that signs only
 * TPM-made structures is what makes the TPMS_ATTEST trustworthy. The key
 * has no scheme of its own here, so any scheme that fits its type is
 * accepted (SHA-1 never).
 *
 * @throws MalformedError for a key, TPMS_ATTEST or TPMT_SIGNATURE that does
 *   not decode; VerificationError as {@link verifyQuote} (steps 2–6).
 * @example
 * ```ts
 * const q = await verifyQuoteWithKey({ key: hclAkJwk, attest, signature, expectedExtraData: nonce, pcrValues });
 * ```
 */
export async function verifyQuoteWithKey(input: VerifyQuoteWithKeyInput): Promise<VerifiedKeyQuote> {
  const jwk = input.key;
  let shape: SigningKeyShape;
  if (jwk.kty === "RSA" && typeof jwk.n === "string") {
    if (bitLength(base64urlDecode(jwk.n, "key.n")) < MIN_RSA_BITS) {
      throw new VerificationError("unsupported-algorithm", "RSA key shorter than 2048 bits");
    }
    shape = { type: "rsa", scheme: { scheme: "null" } };
  } else if (jwk.kty === "EC" && typeof jwk.crv === "string" && JWK_CURVE_BYTES[jwk.crv] !== undefined) {
    shape = { type: "ecc", scheme: { scheme: "null" }, curveBytes: JWK_CURVE_BYTES[jwk.crv]! };
  } else {
    throw new MalformedError("bad-value", "key", "not an RSA or a P-256/P-384/P-521 EC JWK");
  }
  const handle = importPublicJwk(jwk);
  // As in verifyQuote step 0: decoding and the backend call in one synchronous run.
  const attest = decodeTpmsAttest(input.attest);
  const signature = decodeTpmtSignatureView(input.signature);
  const checked = await checkSignedQuote(shape, handle, input.attest, attest, signature, input);
  return new VerifiedKeyQuote(TOKEN, { ...checked, key: jwk });
}

/**
 * Recompute the quote's PCR digest from `values` and return a private copy of
 * exactly the selected values, concatenated in selection order: one buffer
 * that is both the hash input (one backend call) and the verified values'
 * storage.
 */
function checkPcrValues(quote: QuoteAttest, hashAlg: HashAlg, values: PcrValues): Uint8Array {
  const selection = quote.attested.pcrSelect;
  const all = concatBytes(...selectedValues(selection, values));
  const expected = quote.attested.pcrDigest;
  if (expected.length !== digestSize(hashAlg) || !bytesEqual(hash(hashAlg, all), expected)) {
    throw new VerificationError("pcr-digest-mismatch", "PCR values do not match the quoted PCR digest");
  }
  return all;
}

/** Views of `all` (selected values in selection order) by bank and PCR. */
function splitPcrValues(selection: PcrSelection, all: Uint8Array): PcrValues {
  const out = new Map<HashAlg, ReadonlyMap<number, Uint8Array>>();
  let offset = 0;
  for (const bank of selection) {
    const size = digestSize(bank.hash);
    const bankValues = new Map<number, Uint8Array>();
    for (const pcr of bank.pcrs) {
      bankValues.set(pcr, all.subarray(offset, offset + size));
      offset += size;
    }
    out.set(bank.hash, bankValues);
  }
  return out;
}
