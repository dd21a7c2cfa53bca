export * from "./bytes.js";
export * from "./crypto.js";
export * from "./errors.js";
export * from "./hex.js";
export * from "./tpm2.js";
