/**
 * The GPU's attestation certificate chain as NVIDIA's tools hand it over: a
 * PEM text of several CERTIFICATE blocks (RFC 7468 §5), device certificate
 * first. Decoding only; `verify.ts` validates the path.
 */
import { decodePem, MalformedError } from "@veritee/core";
import { MAX_CERTIFICATE_SIZE } from "../x509/certificate.js";

/** The most certificates a GPU chain may hold (Hopper's has 5). */
export const MAX_GPU_CHAIN_LENGTH = 8;

const WHAT = "GPU certificate chain";

/**
 * Split a PEM chain into DER certificates, in order, with core's strict PEM
 * decoder: only whitespace may separate the blocks; each block's base64
 * must be canonical.
 *
 * @throws MalformedError: no block, text between blocks, a mismatched
 *   label, bad base64, more than {@link MAX_GPU_CHAIN_LENGTH} certificates.
 * @example
 * const ders = decodePemChain(readFileSync("hopperCertChain.txt", "utf8"));
 */
export function decodePemChain(text: string): Uint8Array[] {
  if (text.length > MAX_GPU_CHAIN_LENGTH * MAX_CERTIFICATE_SIZE * 2) throw new MalformedError("too-large", WHAT);
  return decodePem(text, {
    label: "CERTIFICATE",
    what: WHAT,
    maxBlocks: MAX_GPU_CHAIN_LENGTH,
    maxBytes: MAX_CERTIFICATE_SIZE,
  });
}
