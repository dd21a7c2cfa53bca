/**
 * TPMT_SIGNATURE (TPM 2.0 Part 2 §11.3.4) for the schemes an attestation key
 * signs with: RSASSA, RSAPSS and ECDSA. A strict decoder and an encoder.
 */
import { ByteReader, ByteWriter, type HashAlg, MalformedError, TPM_ALG } from "@veritee/core";
import { MAX_ECC_KEY_BYTES, MAX_RSA_KEY_BYTES, readHashAlg, writeHashAlg } from "./wire.js";

/** A decoded TPMT_SIGNATURE. */
export type TpmtSignature =
  | {
      /** TPMS_SIGNATURE_RSA (Part 2 §11.3.1). */
      readonly sigAlg: "rsassa" | "rsapss";
      /** The hash the TPM signed with. */
      readonly hash: HashAlg;
      /** The RSA signature, as long as the modulus (TPM2B_PUBLIC_KEY_RSA). */
      readonly sig: Uint8Array;
    }
  | {
      /** TPMS_SIGNATURE_ECC (Part 2 §11.3.2). */
      readonly sigAlg: "ecdsa";
      /** The hash the TPM signed with. */
      readonly hash: HashAlg;
      /** r, big-endian (TPM2B_ECC_PARAMETER; may be shorter than the curve size). */
      readonly r: Uint8Array;
      /** s, big-endian (TPM2B_ECC_PARAMETER). */
      readonly s: Uint8Array;
    };

/**
 * Algorithms TPMI_ALG_SIG_SCHEME allows (Part 2 §11.2.1.5) that we do not
 * verify: ECDAA, SM2, ECSCHNORR and HMAC. TPM_ALG_NULL (a "no signature"
 * placeholder the TPM returns when it was asked not to sign) is rejected too.
 */
const UNSUPPORTED_SIG_ALGS: ReadonlySet<number> = new Set([
  TPM_ALG.ECDAA,
  TPM_ALG.SM2,
  TPM_ALG.ECSCHNORR,
  TPM_ALG.HMAC,
  TPM_ALG.NULL,
]);

/**
 * Decode a TPMT_SIGNATURE that fills `bytes` exactly: sigAlg, then for RSASSA
 * and RSAPSS a hash and a TPM2B signature (at most 512 bytes), for ECDSA a hash
 * and r and s (each at most 66 bytes, P-521's size).
 *
 * @example
 * ```ts
 * const sig = decodeTpmtSignature(readFileSync("quote.sig")); // tpm2_quote -s (tss format)
 * ```
 */
export function decodeTpmtSignature(bytes: Uint8Array): TpmtSignature {
  return readTpmtSignature(bytes, true);
}

/**
 * {@link decodeTpmtSignature} whose byte fields are views of `bytes`, not
 * copies. Internal to the quote verifier, where the signature is used once,
 * synchronously, and never escapes: it saves a copy of up to 512 bytes per
 * quote. Not re-exported from the package.
 */
export function decodeTpmtSignatureView(bytes: Uint8Array): TpmtSignature {
  return readTpmtSignature(bytes, false);
}

function readTpmtSignature(bytes: Uint8Array, copy: boolean): TpmtSignature {
  const r = new ByteReader(bytes, "TPMT_SIGNATURE");
  const tpm2b = (field: string, max: number): Uint8Array => {
    if (copy) return r.tpm2b(field, max);
    const size = r.u16(`${field}.size`);
    if (size > max) throw new MalformedError("too-large", `TPMT_SIGNATURE.${field}`, `size ${size} exceeds ${max}`);
    return r.borrow(size, field);
  };
  const alg = r.u16("sigAlg");
  let out: TpmtSignature;
  if (alg === TPM_ALG.RSASSA || alg === TPM_ALG.RSAPSS) {
    const hash = readHashAlg(r, "signature.hash");
    const sig = tpm2b("signature.sig", MAX_RSA_KEY_BYTES);
    out = { sigAlg: alg === TPM_ALG.RSASSA ? "rsassa" : "rsapss", hash, sig };
  } else if (alg === TPM_ALG.ECDSA) {
    const hash = readHashAlg(r, "signature.hash");
    const sr = tpm2b("signature.signatureR", MAX_ECC_KEY_BYTES);
    const ss = tpm2b("signature.signatureS", MAX_ECC_KEY_BYTES);
    out = { sigAlg: "ecdsa", hash, r: sr, s: ss };
  } else if (UNSUPPORTED_SIG_ALGS.has(alg)) {
    throw new MalformedError("unsupported", "TPMT_SIGNATURE.sigAlg", "signature scheme");
  } else {
    throw new MalformedError("bad-value", "TPMT_SIGNATURE.sigAlg", "not a signature scheme");
  }
  r.end();
  return Object.freeze(out);
}

/** Encode a TPMT_SIGNATURE (the inverse of {@link decodeTpmtSignature}). */
export function encodeTpmtSignature(sig: TpmtSignature): Uint8Array {
  const w = new ByteWriter();
  if (sig.sigAlg === "ecdsa") {
    w.u16(TPM_ALG.ECDSA);
    writeHashAlg(w, sig.hash);
    w.tpm2b(sig.r).tpm2b(sig.s);
  } else {
    w.u16(sig.sigAlg === "rsassa" ? TPM_ALG.RSASSA : TPM_ALG.RSAPSS);
    writeHashAlg(w, sig.hash);
    w.tpm2b(sig.sig);
  }
  return w.finish();
}
