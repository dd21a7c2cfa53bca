/**
 * Byte helpers whose results are `Uint8Array<ArrayBuffer>` (never a view of a
 * shared or resizable buffer), the type `fetch` bodies and WebCrypto accept.
 */

/** A new array holding the concatenation of `parts`. */
export { concatBytes as concat } from "@veritee/core";
