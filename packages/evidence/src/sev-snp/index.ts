export {
  decodeSnpReport,
  decodeSnpTcb,
  SNP_CPU_FAMILY_ZEN3_ZEN4,
  SNP_CPU_FAMILY_ZEN5,
  SNP_REPORT_SIZE,
  SNP_REPORT_VERSIONS,
  SNP_SIG_ALGO_ECDSA_P384_SHA384,
  SNP_SIGNED_SIZE,
  type SnpGuestPolicy,
  type SnpPlatformInfo,
  type SnpReport,
  type SnpSigningKey,
  type SnpTcbLayout,
  type SnpTcbVersion,
} from "./decode.js";
export { SNP_PRODUCTS, type SnpProduct, snpProductFromCpuid, snpProductFromName, snpTcbLayout } from "./product.js";
export { AMD_SNP_ROOTS, type SnpTrustAnchors } from "./roots.js";
export { AMD_VCEK_OID, decodeSnpEndorsementExtensions, type SnpEndorsementExtensions } from "./vcek.js";
export {
  createSnpVerifier,
  type SnpRoots,
  type SnpVerifier,
  type SnpVerifierOptions,
  VerifiedSnpEndorsement,
  VerifiedSnpReport,
  type VerifySnpEndorsementOptions,
  type VerifySnpReportOptions,
  verifySnpEndorsement,
  verifySnpReport,
} from "./verify.js";
