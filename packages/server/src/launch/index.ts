/** Measured launch: measurements, ephemeral keys, the launch log, extending it into the application PCR. */
export {
  type EmbeddedEngineConfig,
  measuredConfiguration,
  SECRET_CONFIG_FIELDS,
  type SealedModelConfig,
  type ServerAccess,
  type ServerConfig,
  type ServerLimits,
  type TpmConfig,
  type UpstreamEngineConfig,
} from "./config.js";
export {
  assertEngineMappingsPinned,
  closeEngineFiles,
  ENGINE_PACKAGES,
  listEngineFiles,
  type PinnedEngineFile,
  pinEngineFiles,
} from "./engine-files.js";
export { LaunchError, type LaunchErrorCode } from "./errors.js";
export { buildLaunchLog, extendLaunchLog, readAppPcr } from "./event-log.js";
export { measureOpenFile } from "./hash-file.js";
export { DEFAULT_HPKE_CIPHER_SUITES, dropKeys, generateServerKeys, ServerKeys } from "./keys.js";
export {
  assertApplicationPcrFresh,
  type MeasuredLaunch,
  type MeasuredLaunchOptions,
  runMeasuredLaunch,
} from "./launch.js";
export {
  assertNoLoaderEnvironment,
  currentLaunchEnvironment,
  isEmptyLaunchEnvironment,
  isLoaderVariable,
  type LaunchEnvironment,
  NO_LOADER_ENVIRONMENT,
} from "./launch-environment.js";
export {
  CODE_BUNDLE_PACKAGES,
  type CodeBundleMeasurement,
  type ConfigurationMeasurement,
  type EngineBinaryMeasurement,
  engineBinaryInputs,
  type FileMeasurement,
  isCodeBundlePath,
  type LaunchInputs,
  type LaunchMeasurements,
  type MeasureProgress,
  type MeasureProgressCallback,
  type ModelMeasurement,
  mappedEngineBinaryInputs,
  measureCodeBundle,
  measureConfiguration,
  measureEngineBinaries,
  measureFile,
  measureLaunch,
  measureModel,
  measureRuntime,
  type RuntimeMeasurement,
} from "./measure.js";
export { assertPinnedFileLoaded, type PinnedFile, pinFile } from "./pinned-file.js";
export {
  type FileIdentity,
  type FileMapping,
  identityOf,
  openMappedFile,
  parseProcMaps,
  readProcMaps,
} from "./proc-maps.js";
export {
  APPLICATION_PCR,
  DEFAULT_HOST,
  DEFAULT_PORT,
  measuredLimits,
  type ServerConfigInput,
  serverConfig,
  type TpmChoice,
  tpmConfigFor,
} from "./server-config.js";
export { assertWorkspaceResolvesToBundle, workspacePackageDirectory } from "./workspace.js";
