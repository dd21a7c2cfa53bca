/**
 * Byte helpers whose results are `Uint8Array<ArrayBuffer>` (never a view of a
 * shared or resizable buffer), the type `fetch` bodies and WebCrypto accept.
 */

/** A new array holding the concatenation of `parts`. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
