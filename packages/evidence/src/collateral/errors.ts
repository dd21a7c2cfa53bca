/** The error of collateral that is needed but not available. */
import { VeriteeError } from "@veritee/core";

/** Codes of {@link CollateralError}. */
export type CollateralErrorCode = "collateral-missing";

/**
 * Trust material the verification needs is not in the collateral source
 * (e.g. the TDX TCB info for the quote's FMSPC). Not a verdict on the
 * evidence: with the item in place it may well verify. The CLI's exit code
 * for its kind is 13.
 */
export class CollateralError extends VeriteeError<CollateralErrorCode> {
  readonly kind = "collateral" as const;
}
