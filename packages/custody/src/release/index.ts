export {
  type LeaseGrant,
  type ModelRelease,
  type ObtainModelKeyOptions,
  obtainModelKey,
  obtainModelRelease,
  type ReleaseAttester,
  type RetryOptions,
} from "./client.js";
export { type HeldLease, LeaseClient, type LeaseClientOptions } from "./lease-client.js";
