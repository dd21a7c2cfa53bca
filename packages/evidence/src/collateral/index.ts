export {
  type CachedCollateralOptions,
  type CollateralKind,
  type CollateralSource,
  cachedCollateral,
  checkCollateralName,
} from "./source.js";
