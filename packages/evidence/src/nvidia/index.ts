export { type CanonicalizeOptions, canonicalizeXml } from "./c14n.js";
export { decodePemChain, MAX_GPU_CHAIN_LENGTH } from "./cert-chain.js";
export {
  decodeGpuOpaqueData,
  decodeGpuReport,
  decodeSpdmGetMeasurements,
  decodeSpdmMeasurements,
  GPU_REPORT_LIMITS,
  GPU_REQUEST_SIZE,
  GPU_SIGNATURE_SIZE,
  type GpuOpaqueData,
  type GpuOpaqueField,
  type GpuReport,
  NVIDIA_OPAQUE,
  SPDM_ALL_MEASUREMENTS,
  SPDM_GET_MEASUREMENTS,
  SPDM_MEASUREMENT_SPEC_DMTF,
  SPDM_MEASUREMENTS,
  SPDM_NONCE_SIZE,
  SPDM_VERSION_1_1,
  type SpdmGetMeasurementsRequest,
  type SpdmMeasurementBlock,
  type SpdmMeasurementsResponse,
} from "./decode.js";
export { decodeGpuRim, type GpuRim, RIM_SHA384_NAMESPACE, type RimMeasurement, SWID_NAMESPACE } from "./rim.js";
export { VerifiedGpuRim, type VerifyGpuRimOptions, verifyGpuRim } from "./rim-signature.js";
export { NVIDIA_DEVICE_IDENTITY_ROOT, NVIDIA_RIM_ROOT } from "./roots.js";
export {
  createGpuVerifier,
  GPU_NONCE_LABEL,
  type GpuSession,
  type GpuVerifier,
  type GpuVerifierOptions,
  gpuNonceBinding,
  VerifiedGpuReport,
  type VerifyGpuReportOptions,
  verifyGpuReport,
} from "./verify.js";
export {
  parseXml,
  XML_LIMITS,
  type XmlAttribute,
  type XmlElement,
  type XmlName,
  type XmlNamespaceDeclaration,
  xmlAttribute,
  xmlChild,
} from "./xml.js";
