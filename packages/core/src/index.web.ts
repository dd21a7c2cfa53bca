// The browser entry of @veritee/core (the "browser" export condition): the
// shared modules and the WebCrypto backend, no Node API. Same exports as
// index.ts except Node-only key generation.
export * from "./crypto-web.js";
export * from "./shared.js";
