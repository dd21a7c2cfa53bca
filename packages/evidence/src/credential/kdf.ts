/**
 * The TPM's key derivation functions, TPM 2.0 Library Part 1 §11.4.10:
 * KDFa (§11.4.10.2, SP 800-108 counter mode with HMAC) and KDFe
 * (§11.4.10.3, the SP 800-56A concatenation KDF used after ECDH).
 */
import { concatBytes, digestSize, type HashAlg, hash, hmac, utf8 } from "@veritee/core";

/** More than any TPM derivation needs (the largest is a 512-bit HMAC key). */
const MAX_BITS = 65536;

function u32(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v >>> 0, false);
  return out;
}

/**
 * A label as Part 1 §11.4.10.2 uses it: the string's bytes followed by one
 * 0x00 octet ("if the label does not end with a NUL, one is added").
 */
function labelBytes(label: string): Uint8Array {
  if (label.includes("\0")) throw new RangeError("a KDF label must not contain NUL");
  const text = utf8(label);
  const out = new Uint8Array(text.length + 1);
  out.set(text);
  return out;
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits <= 0 || bits > MAX_BITS) throw new RangeError("KDF output size out of range");
}

/**
 * Truncate the key stream to `bits`; when `bits` is not a whole number of
 * bytes the unused high-order bits of the first byte are cleared (Part 1
 * §11.4.10.2, last step).
 */
function truncate(stream: Uint8Array, bits: number): Uint8Array {
  const out = stream.slice(0, Math.ceil(bits / 8));
  if (bits % 8 !== 0) out[0]! &= (1 << (bits % 8)) - 1;
  return out;
}

/**
 * KDFa (TPM 2.0 Part 1 §11.4.10.2): for i = 1, 2, …
 * `HMAC_hashAlg(key, [i]₃₂ ‖ label ‖ 0x00 ‖ contextU ‖ contextV ‖ [bits]₃₂)`,
 * concatenated and truncated to `bits`.
 *
 * @example
 * // The symmetric key protecting a credential (Part 1 §24.4):
 * const symKey = kdfA("sha256", seed, "STORAGE", akName, new Uint8Array(0), 128);
 */
export function kdfA(
  hashAlg: HashAlg,
  key: Uint8Array,
  label: string,
  contextU: Uint8Array,
  contextV: Uint8Array,
  bits: number,
): Uint8Array {
  checkBits(bits);
  const l = labelBytes(label);
  const blocks = Math.ceil(bits / 8 / digestSize(hashAlg));
  const parts: Uint8Array[] = [];
  for (let i = 1; i <= blocks; i++) parts.push(hmac(hashAlg, key, u32(i), l, contextU, contextV, u32(bits)));
  return truncate(concatBytes(...parts), bits);
}

/**
 * KDFe (TPM 2.0 Part 1 §11.4.10.3): for i = 1, 2, …
 * `H_hashAlg([i]₃₂ ‖ Z ‖ use ‖ 0x00 ‖ partyUInfo ‖ partyVInfo)`, concatenated
 * and truncated to `bits`. `z` is the x-coordinate of the ECDH shared point;
 * for credential protection partyUInfo is the ephemeral key's x and
 * partyVInfo the EK's x (Part 1 §C.6.4).
 */
export function kdfE(
  hashAlg: HashAlg,
  z: Uint8Array,
  use: string,
  partyUInfo: Uint8Array,
  partyVInfo: Uint8Array,
  bits: number,
): Uint8Array {
  checkBits(bits);
  const l = labelBytes(use);
  const blocks = Math.ceil(bits / 8 / digestSize(hashAlg));
  const parts: Uint8Array[] = [];
  for (let i = 1; i <= blocks; i++) parts.push(hash(hashAlg, u32(i), z, l, partyUInfo, partyVInfo));
  return truncate(concatBytes(...parts), bits);
}
