import { MalformedError } from "./errors.js";

const HEX = "0123456789abcdef";
const BYTE_TO_HEX: string[] = Array.from({ length: 256 }, (_, i) => HEX[i >> 4]! + HEX[i & 15]!);

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += BYTE_TO_HEX[b];
  return out;
}

/**
 * Strict hex decoding: an optional `0x` prefix, then an even number of hex
 * digits (either case), nothing else. Anything else is a `bad-hex` error.
 */
export function fromHex(text: string, what = "hex"): Uint8Array {
  const s = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new MalformedError("bad-hex", what, "expected an even number of hex digits");
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
