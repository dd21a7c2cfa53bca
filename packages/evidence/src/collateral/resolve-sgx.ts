/**
 * The collateral an SGX quote needs, looked up in a {@link CollateralSource}
 * by what the quote's PCK certificate says (its FMSPC, its issuing CA), as
 * `resolve-tdx.ts` does for TDX. The keys come from still unverified
 * evidence; `verifySgxQuote` then checks that each item belongs to the quote.
 * The TCB signing chain and the CRLs are the same items TDX uses (one Intel
 * PKI); TCB info and QE identity are SGX's own kinds.
 */
import { decodeSgxQuote, type SgxQuote } from "../sgx/decode.js";
import type { SgxCollateral } from "../sgx/verify.js";
import { decodePckExtensions } from "../tdx/pck-extensions.js";
import { decodeCertificate } from "../x509/certificate.js";
import { collateralKeys } from "./keys.js";
import { allInOrder, required, resolveTdxCrls, type TdxCrls } from "./resolve-tdx.js";
import type { CollateralSource } from "./source.js";

/**
 * The optional CRLs for an SGX quote: the PCK CRL of its issuing CA and the
 * root CA CRL, each when the source has it.
 */
export function resolveSgxCrls(source: CollateralSource, quote: Uint8Array | SgxQuote): Promise<TdxCrls> {
  return resolveTdxCrls(source, quote instanceof Uint8Array ? decodeSgxQuote(quote) : quote);
}

/**
 * Everything `verifySgxQuote` needs for `quote`: SGX TCB info (by the PCK
 * certificate's FMSPC), SGX QE identity and TCB signing chain are
 * required, the CRLs are included when the source has them.
 *
 * @throws CollateralError `collateral-missing` naming the absent item.
 * @throws MalformedError for a quote or PCK certificate that does not decode.
 * @example
 * const collateral = await resolveSgxCollateral(directoryCollateral(dir), quote);
 * const verified = await verifySgxQuote({ quote, collateral, at });
 */
export async function resolveSgxCollateral(
  source: CollateralSource,
  quote: Uint8Array | SgxQuote,
): Promise<SgxCollateral> {
  const q = quote instanceof Uint8Array ? decodeSgxQuote(quote) : quote;
  const fmspc = decodePckExtensions(decodeCertificate(q.certification.pckChain[0]!)).fmspc;
  const [tcbInfo, qeIdentity, tcbSigningChain, crls] = await allInOrder<[Uint8Array, Uint8Array, Uint8Array, TdxCrls]>([
    required(source, collateralKeys.sgxTcbInfo(fmspc)),
    required(source, collateralKeys.sgxQeIdentity()),
    required(source, collateralKeys.tcbSigningChain()),
    resolveTdxCrls(source, q),
  ]);
  return Object.freeze({ tcbInfo, qeIdentity, tcbSigningChain, ...crls });
}
