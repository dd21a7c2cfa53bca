// Standard base64 lives in @veritee/core (the channel needs it too and may
// import only core); this module keeps evidence's existing import paths.
export { base64Decode, base64Encode } from "@veritee/core";
