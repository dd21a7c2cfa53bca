/**
 * An attestation key's public area, decoded and imported once, for verifying
 * many quotes with it (importing a key costs more than decoding a quote).
 */
import { exportSpki, type PublicKeyHandle } from "@veritee/core";
import { type DecodedTpmtPublic, decodeTpm2bPublic, decodeTpmtPublic } from "./public.js";
import { publicKeyHandle } from "./public-key.js";

const TOKEN: unique symbol = Symbol("AkPublic");

/**
 * A decoded AK public area with its imported key. Only {@link decodeAkPublic}
 * and {@link akPublicFromDecoded} make one, so `key` always is the key that
 * `public` describes and `name` always is its Name. Decoding implies no trust:
 * whether this key belongs to a TPM is for the AK certificate or credential
 * activation to show, and its attributes are checked by `verifyQuote`.
 */
export class AkPublic {
  readonly #brand = true;
  /** The decoded TPMT_PUBLIC (with its bytes and Name). */
  readonly public: DecodedTpmtPublic;
  /** The key handle for signature verification. */
  readonly key: PublicKeyHandle;

  /** Not for callers: use {@link decodeAkPublic}. */
  constructor(token: typeof TOKEN, pub: DecodedTpmtPublic, key: PublicKeyHandle) {
    if (token !== TOKEN) throw new TypeError("AkPublic is made by decodeAkPublic");
    this.public = pub;
    this.key = key;
    Object.freeze(this);
  }

  /** The AK's Name: nameAlg || H_nameAlg(TPMT_PUBLIC) (TPM 2.0 Part 1 §16). */
  get name(): Uint8Array {
    return this.public.name;
  }

  /** DER SubjectPublicKeyInfo of the key (e.g. to compare with an AK certificate). */
  spki(): Uint8Array {
    return exportSpki(this.key);
  }

  /** True only for objects made by this module (not for look-alikes). */
  static is(value: unknown): value is AkPublic {
    return typeof value === "object" && value !== null && #brand in value;
  }
}

/**
 * Decode a TPM2B_PUBLIC (what `tpm2_createak -u` writes) as an AK and import
 * its key. Throws `MalformedError` for bytes that are not an RSA or ECC
 * public area or whose key is invalid. Reuse the result across quotes.
 *
 * @example
 * ```ts
 * const ak = decodeAkPublic(readFileSync("ak.pub"));
 * const q = await verifyQuote({ akPublic: ak, attest, signature, expectedExtraData: nonce });
 * ```
 */
export function decodeAkPublic(tpm2bPublic: Uint8Array): AkPublic {
  const pub = decodeTpm2bPublic(tpm2bPublic);
  return new AkPublic(TOKEN, pub, publicKeyHandle(pub));
}

/**
 * Make an {@link AkPublic} from an already decoded public area. The area is
 * decoded again from its `raw` bytes, so fields, Name and key cannot disagree
 * even if `decoded` was built by hand.
 */
export function akPublicFromDecoded(decoded: DecodedTpmtPublic): AkPublic {
  const pub = decodeTpmtPublic(decoded.raw);
  return new AkPublic(TOKEN, pub, publicKeyHandle(pub));
}
