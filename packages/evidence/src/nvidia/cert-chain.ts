/**
 * The GPU's attestation certificate chain as NVIDIA's tools hand it over: a
 * PEM text of several CERTIFICATE blocks (RFC 7468 §5), device certificate
 * first. Decoding only; `verify.ts` validates the path.
 */
import { MalformedError } from "@veritee/core";
import { base64Decode } from "../launch/base64.js";
import { MAX_CERTIFICATE_SIZE } from "../x509/certificate.js";

/** The most certificates a GPU chain may hold (Hopper's has 5). */
export const MAX_GPU_CHAIN_LENGTH = 8;

const WHAT = "GPU certificate chain";
const BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/y;

/**
 * Split a PEM chain into DER certificates, in order. Only whitespace may
 * separate the blocks; each block's base64 must be canonical.
 *
 * @throws MalformedError: no block, text between blocks, bad base64, more
 *   than {@link MAX_GPU_CHAIN_LENGTH} certificates.
 * @example
 * const ders = decodePemChain(readFileSync("hopperCertChain.txt", "utf8"));
 */
export function decodePemChain(text: string): Uint8Array[] {
  if (text.length > MAX_GPU_CHAIN_LENGTH * MAX_CERTIFICATE_SIZE * 2) throw new MalformedError("too-large", WHAT);
  const out: Uint8Array[] = [];
  let pos = 0;
  for (;;) {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
    if (pos === text.length) break;
    BLOCK.lastIndex = pos;
    const match = BLOCK.exec(text);
    if (!match) throw new MalformedError("bad-value", WHAT, `no CERTIFICATE block at offset ${pos}`);
    if (out.length === MAX_GPU_CHAIN_LENGTH) {
      throw new MalformedError("too-large", WHAT, `more than ${MAX_GPU_CHAIN_LENGTH} certificates`);
    }
    const der = base64Decode(match[1]!.replace(/\s+/g, ""), `${WHAT}[${out.length}]`, MAX_CERTIFICATE_SIZE);
    if (der.length === 0) throw new MalformedError("bad-length", `${WHAT}[${out.length}]`, "empty");
    out.push(der);
    pos = BLOCK.lastIndex;
  }
  if (out.length === 0) throw new MalformedError("bad-length", WHAT, "no certificate");
  return out;
}
