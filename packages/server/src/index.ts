export * from "./attestation/index.js";
export * from "./channel/index.js";
export { DEFAULT_MEMORY_DIR } from "./custody/memory-file.js";
export { SEALED_CONTEXT_SIZE, type SealedEngineInput, sealedEngineConfig } from "./custody/sealed-config.js";
export { type OpenedSealedModel, openSealedModel } from "./custody/sealed-model.js";
export * from "./engine/index.js";
export * from "./http/index.js";
export * from "./launch/index.js";
export * from "./model/resolve.js";
export {
  type ReferenceValues,
  type RunningVeriteeServer,
  type SealedModelOptions,
  type ServeOptions,
  startVeriteeServer,
} from "./serve.js";
export {
  AZURE_AK_PERSISTENT_HANDLE,
  AZURE_HCL_REPORT_NV_INDEX,
  type AzureCertificateSource,
  type AzureSnpCertificates,
  loadAzureCertificates,
  type NvReader,
  readAzureVtpmEvidence,
} from "./tee/azure-vtpm.js";
export {
  type AzureVtpmAccess,
  createPlatformCollector,
  type GpuEvidence,
  type GpuEvidenceSource,
  type NvAccess,
  type PlatformCollector,
  type PlatformCollectorOptions,
  type PlatformEvidenceChoice,
  platformCollectorFor,
  type TsmSource,
} from "./tee/collector.js";
export {
  CONFIGFS_TSM_ROOT,
  readTsmReport,
  type TsmFileSystem,
  type TsmReport,
  tsmAvailable,
} from "./tee/configfs-tsm.js";
export { TeeError, type TeeErrorCode } from "./tee/errors.js";
export { type GpuEvidenceCommand, gpuEvidenceFromCommand, parseGpuEvidence } from "./tee/gpu-command.js";
export { decodeSnpCertTable, encodeSnpCertTable, SNP_CERT_GUID, type SnpCertTable } from "./tee/snp-cert-table.js";
