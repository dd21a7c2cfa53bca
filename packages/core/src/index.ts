// The Node entry of @veritee/core; index.web.ts is the browser one (the
// "browser" export condition). Both export the shared modules and a crypto
// backend with the same API; key generation is Node only.
export * from "./crypto-node.js";
export { generateP256, generateX25519, importX25519Private } from "./keygen-node.js";
export * from "./shared.js";
