export { CollateralError, type CollateralErrorCode } from "./errors.js";
export {
  COLLATERAL_KINDS,
  type CollateralKey,
  collateralKeys,
  getCollateral,
  INTEL_KEY,
  type KnownCollateralKind,
  SGX_QE_IDENTITY_KEY,
  TDX_QE_IDENTITY_KEY,
} from "./keys.js";
export { resolveSgxCollateral, resolveSgxCrls } from "./resolve-sgx.js";
export { resolveSnpEndorsement, type SnpEndorsementCollateral } from "./resolve-snp.js";
export {
  type QuoteWithPckChain,
  resolveTdxCollateral,
  resolveTdxCrls,
  type TdxCrls,
  tdxPckCa,
} from "./resolve-tdx.js";
export {
  type CachedCollateralOptions,
  type CollateralKind,
  type CollateralSource,
  cachedCollateral,
  checkCollateralName,
} from "./source.js";
