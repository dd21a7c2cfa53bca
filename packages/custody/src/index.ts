/**
 * `@veritee/custody`: the model owner's side of Veritee (docs/CUSTODY.md) —
 * sealed model files, Shamir shares of their keys, the custodian service that
 * releases a key only to a server whose attestation passes the owner's
 * policy, and the release client that server runs. Node-only.
 */

export { ADMIN_TOKEN_ENV, type AddModel, AdminClient, adminTransportProblem, readAdminToken } from "./admin-client.js";
export { type CustodyCode, CustodyError, type SealedModelCode, SealedModelError } from "./errors.js";
export {
  decodeKeyFile,
  encodeKeyFile,
  KEY_FILE_FORMAT,
  type ModelKeyFile,
  readKeyFile,
  writeKeyFile,
} from "./key-file.js";
export { ownerPublicKey, readOwnerKey, signApproval, writeOwnerKey } from "./owner-key.js";
export * from "./protocol/index.js";
export * from "./release/index.js";
export * from "./sealed/index.js";
export { combineModelKey, SHARE_BYTES, splitModelKey } from "./shares.js";
