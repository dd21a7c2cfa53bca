export {
  type ObtainModelKeyOptions,
  obtainModelKey,
  type ReleaseAttester,
  type RetryOptions,
} from "./client.js";
