// The runtime-independent modules of @veritee/core, exported by both entries
// (index.ts for Node, index.web.ts for browsers).
export { base64Decode, base64Encode } from "./base64.js";
export { base64urlDecode, base64urlEncode } from "./base64url.js";
export * from "./bytes.js";
export * from "./der.js";
export * from "./der-encode.js";
export * from "./errors.js";
export * from "./hex.js";
export * from "./hpke.js";
export * from "./json.js";
export * from "./json-parse.js";
export * from "./listen-error.js";
export * from "./pem.js";
export {
  decodeSpki,
  encodeSpki,
  isOnCurve,
  type NistCurve,
  type PublicKeyParts,
  publicKeyFromJwk,
  publicKeyJwkOf,
} from "./spki.js";
export * from "./tpm2.js";
