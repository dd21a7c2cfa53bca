export {
  MODEL_KEY_INFO,
  type ObtainModelKeyOptions,
  obtainModelKey,
  type ReleaseAttester,
  type RetryOptions,
} from "./client.js";
