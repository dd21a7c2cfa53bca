/**
 * Just enough DER (X.690 §8.1) to find where a certificate stored in an NV
 * index ends: NV indices are defined with a fixed size, and TPM vendors pad
 * the certificate after its end.
 */
import { MalformedError } from "@veritee/core";

/**
 * The certificate at the start of `bytes`, without the padding after it.
 * The first element must be a SEQUENCE with a definite length; what follows
 * it must be padding (all 0x00 or all 0xff), anything else is an error.
 */
export function trimDerPadding(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length < 2) throw new MalformedError("truncated", what);
  if (bytes[0] !== 0x30) throw new MalformedError("bad-value", `${what}.tag`, "not a DER SEQUENCE");
  let length: number;
  let header: number;
  const first = bytes[1]!;
  if (first < 0x80) {
    length = first;
    header = 2;
  } else {
    const octets = first & 0x7f;
    // 0x80 is BER's indefinite length (not DER); more than 3 octets is beyond any NV index.
    if (octets === 0 || octets > 3) throw new MalformedError("bad-length", `${what}.length`);
    if (bytes.length < 2 + octets) throw new MalformedError("truncated", `${what}.length`);
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + bytes[2 + i]!;
    if (bytes[2] === 0 || length < 0x80) throw new MalformedError("bad-length", `${what}.length`, "not minimal");
    header = 2 + octets;
  }
  const end = header + length;
  if (end > bytes.length) throw new MalformedError("truncated", what, `needs ${end} bytes, has ${bytes.length}`);
  const padding = bytes.subarray(end);
  if (padding.length > 0 && !padding.every((b) => b === 0x00) && !padding.every((b) => b === 0xff)) {
    throw new MalformedError("trailing-data", what, "non-padding bytes after the certificate");
  }
  return bytes.slice(0, end);
}
