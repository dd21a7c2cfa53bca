/**
 * How a quote binds a verifier's fresh nonce to the server's key set: the
 * quote's qualifying data (extraData) is
 *
 *     SHA-256("veritee-attestation-v1" || nonce || keySetDigest)
 *
 * with the 22-byte ASCII label, the verifier's 16–64-byte nonce, and the
 * 32-byte key-set digest. The label and the digest have fixed lengths, so
 * the concatenation splits one way only. The 32-byte result fits TPM2B_DATA
 * (at most sizeof(TPMT_HA), TPM 2.0 Part 2 §10.4.3).
 */
import { hash, utf8 } from "@veritee/core";

/** The domain-separation label of the binding. */
export const ATTESTATION_LABEL = "veritee-attestation-v1";

/** Nonce length bounds in bytes: at least 128 bits of freshness; at most what a URL comfortably carries. */
export const NONCE_LENGTH = { min: 16, max: 64 } as const;

/**
 * The extraData a quote must carry for `nonce` and `keySetDigest`.
 *
 * @throws RangeError for a nonce outside {@link NONCE_LENGTH} or a digest that is not 32 bytes.
 * @example
 * const extraData = attestationExtraData(nonce, keySetDigest(keySet));
 */
export function attestationExtraData(nonce: Uint8Array, keySetDigest: Uint8Array): Uint8Array {
  if (nonce.length < NONCE_LENGTH.min || nonce.length > NONCE_LENGTH.max) {
    throw new RangeError(`the nonce must be ${NONCE_LENGTH.min}..${NONCE_LENGTH.max} bytes`);
  }
  if (keySetDigest.length !== 32) throw new RangeError("the key-set digest is 32 bytes");
  return hash("sha256", utf8(ATTESTATION_LABEL), nonce, keySetDigest);
}

/** The domain-separation label of {@link platformReportData}. */
export const PLATFORM_LABEL = "veritee-platform-v1";

/** What the CPU evidence's 64-byte report data binds; see {@link platformReportData}. */
export interface PlatformBindingInput {
  /** The verifier's fresh nonce, 16–64 bytes. */
  readonly nonce: Uint8Array;
  /** SHA-256 of the key set's canonical encoding, 32 bytes. */
  readonly keySetDigest: Uint8Array;
  /** The document's GPU reports (request ‖ response bytes), in document order; at most 8. */
  readonly gpuReports: readonly Uint8Array[];
}

/**
 * The 64 bytes an SEV-SNP REPORT_DATA or a TDX REPORTDATA must hold:
 *
 *     SHA-512("veritee-platform-v1" || u8(len(nonce)) || nonce || keySetDigest
 *             || u8(n) || SHA-384(gpuReport_1) || ... || SHA-384(gpuReport_n))
 *
 * So the CPU evidence answers the verifier's fresh nonce, names the attested
 * key set, and pins the exact GPU reports sent beside it (a GPU report from
 * another session or another machine changes the hash). The nonce length
 * and the GPU count are prefixed because, unlike the quote's binding, the
 * variable-length nonce is followed by more than one fixed-length field:
 * without them a longer nonce could absorb the key-set digest and a GPU
 * hash, and two different inputs would hash the same bytes. SHA-512 fills
 * the 64 bytes both TEEs report (AMD 56860 Table 23 REPORT_DATA; Intel TDX
 * Module ABI TDREPORT REPORTDATA).
 *
 * @throws RangeError for a nonce outside {@link NONCE_LENGTH}, a digest that is not 32 bytes, or more than 8 GPU reports.
 * @example
 * const reportData = platformReportData({ nonce, keySetDigest: keySetDigest(keySet), gpuReports: [] });
 */
export function platformReportData(input: PlatformBindingInput): Uint8Array {
  const { nonce, keySetDigest, gpuReports } = input;
  if (nonce.length < NONCE_LENGTH.min || nonce.length > NONCE_LENGTH.max) {
    throw new RangeError(`the nonce must be ${NONCE_LENGTH.min}..${NONCE_LENGTH.max} bytes`);
  }
  if (keySetDigest.length !== 32) throw new RangeError("the key-set digest is 32 bytes");
  if (gpuReports.length > 8) throw new RangeError("at most 8 GPU reports");
  return hash(
    "sha512",
    utf8(PLATFORM_LABEL),
    Uint8Array.of(nonce.length),
    nonce,
    keySetDigest,
    Uint8Array.of(gpuReports.length),
    ...gpuReports.map((r) => hash("sha384", r)),
  );
}
