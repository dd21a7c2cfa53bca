export {
  decodeRuntimeClaims,
  HCL_AK_KID,
  HCL_EK_KID,
  MAX_USER_DATA_SIZE,
  type RuntimeClaims,
  type RuntimeClaimsKey,
  type VmConfiguration,
} from "./claims.js";
export {
  AZ_SNP_VTPM_VERSIONS,
  AZ_TDX_VTPM_VERSIONS,
  type AzCvmEvidence,
  type CvmTpmQuote,
  decodeAzCvmEvidence,
  MAX_CVM_EVIDENCE_SIZE,
  MAX_QUOTE_PCRS,
} from "./cvm-evidence.js";
export {
  decodeHclReport,
  decodeTdReport,
  HCL_HEADER_SIZE,
  HCL_HW_REPORT_SIZE,
  HCL_REPORT_TYPE,
  HCL_REQUEST_DATA_OFFSET,
  HCL_REQUEST_DATA_SIZE,
  HCL_REQUEST_DATA_VERSION,
  HCL_REQUEST_TYPE_AK_CERT,
  HCL_SIGNATURE,
  HCL_VERSIONS,
  type HclHardwareReport,
  type HclReport,
  MAX_HCL_REPORT_SIZE,
  MAX_RUNTIME_CLAIMS_SIZE,
  TD_REPORT_SIZE,
  type TdReport,
} from "./decode.js";
export {
  type AzureSnpInputs,
  type AzureTdxInputs,
  type VerifiedAzureHardware,
  VerifiedAzureVtpm,
  type VerifyAzureVtpmOptions,
  verifyAzureVtpmAttestation,
} from "./verify.js";
export { type VerifyAzCvmEvidenceOptions, verifyAzCvmEvidence } from "./verify-cvm-evidence.js";
