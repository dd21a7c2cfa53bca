/**
 * The collateral a TDX quote needs, looked up in a {@link CollateralSource}
 * by what the quote's PCK certificate says (its FMSPC, its issuing CA). The
 * lookup keys come from still unverified evidence; that is safe because
 * `verifyTdxQuote` then checks that each item belongs to the quote (TCB info
 * FMSPC and PCE ID, CRL issuers and signatures). No network here: the
 * source decides where bytes come from.
 */

import type { DcapQeCertificationData } from "../dcap/quote.js";
import { decodeTdxQuote, type TdxQuote } from "../tdx/decode.js";
import { decodePckExtensions } from "../tdx/pck-extensions.js";
import type { TdxCollateral } from "../tdx/verify.js";
import { decodeCertificate } from "../x509/certificate.js";
import { CollateralError } from "./errors.js";
import { type CollateralKey, collateralKeys, getCollateral } from "./keys.js";
import type { CollateralSource } from "./source.js";

/** The CRLs found for a quote; each absent when the source has none. */
export interface TdxCrls {
  readonly pckCrl?: Uint8Array;
  readonly rootCrl?: Uint8Array;
}

/** What the look-ups need of a decoded DCAP quote (TDX or SGX): its PCK chain. */
export interface QuoteWithPckChain {
  readonly certification: Pick<DcapQeCertificationData, "pckChain">;
}

function leafOf(quote: QuoteWithPckChain) {
  return decodeCertificate(quote.certification.pckChain[0]!);
}

/**
 * The PCK CRL key of the CA that issued the quote's PCK certificate, by its
 * CN (Intel SGX PCK Certificate and CRL Profile §2: "Intel SGX PCK Platform
 * CA" or "… Processor CA"); undefined for any other issuer.
 */
export function tdxPckCa(quote: QuoteWithPckChain): "platform" | "processor" | undefined {
  const cn = leafOf(quote).issuer.attributes.find((a) => a.oid === "2.5.4.3")?.value ?? "";
  if (/\bPlatform CA$/.test(cn)) return "platform";
  if (/\bProcessor CA$/.test(cn)) return "processor";
  return undefined;
}

/**
 * The optional CRLs for a quote: the PCK CRL of its issuing CA and the
 * root CA CRL, each when the source has it.
 *
 * @example
 * const { pckCrl, rootCrl } = await resolveTdxCrls(source, decodeTdxQuote(bytes));
 */
export async function resolveTdxCrls(
  source: CollateralSource,
  quote: Uint8Array | QuoteWithPckChain,
): Promise<TdxCrls> {
  const q = quote instanceof Uint8Array ? decodeTdxQuote(quote) : quote;
  const ca = tdxPckCa(q);
  const [pckCrl, rootCrl] = await Promise.all([
    ca === undefined ? undefined : getCollateral(source, collateralKeys.pckCrl(ca)),
    getCollateral(source, collateralKeys.rootCrl()),
  ]);
  return Object.freeze({
    ...(pckCrl === undefined ? {} : { pckCrl }),
    ...(rootCrl === undefined ? {} : { rootCrl }),
  });
}

/** An item the source must have; `collateral-missing` naming it otherwise. */
export async function required(source: CollateralSource, item: CollateralKey): Promise<Uint8Array> {
  const bytes = await getCollateral(source, item);
  if (bytes === undefined) {
    throw new CollateralError("collateral-missing", `the collateral source has no ${item.kind}/${item.key}`);
  }
  return bytes;
}

/**
 * Await lookups that run concurrently, then fail with the first failure in
 * the order given rather than the first to settle, so that a source missing
 * several items is always reported the same way (the TCB info first).
 */
export async function allInOrder<T extends readonly unknown[]>(
  lookups: {
    readonly [K in keyof T]: Promise<T[K]>;
  },
): Promise<T> {
  const settled = await Promise.allSettled(lookups);
  const values: unknown[] = [];
  for (const result of settled) {
    if (result.status === "rejected") throw result.reason;
    values.push(result.value);
  }
  return values as unknown as T;
}

/**
 * Everything `verifyTdxQuote` needs for `quote`: TCB info (by the PCK
 * certificate's FMSPC), QE identity and TCB signing chain are required,
 * the CRLs are included when the source has them.
 *
 * @throws CollateralError `collateral-missing` naming the absent item.
 * @throws MalformedError for a quote or PCK certificate that does not decode.
 * @example
 * const collateral = await resolveTdxCollateral(cachedCollateral(directoryCollateral(dir), { maxEntries: 16 }), quote);
 * const verified = await verifyTdxQuote({ quote, collateral, at });
 */
export async function resolveTdxCollateral(
  source: CollateralSource,
  quote: Uint8Array | TdxQuote,
): Promise<TdxCollateral> {
  const q = quote instanceof Uint8Array ? decodeTdxQuote(quote) : quote;
  const fmspc = decodePckExtensions(leafOf(q)).fmspc;
  const [tcbInfo, qeIdentity, tcbSigningChain, crls] = await allInOrder<[Uint8Array, Uint8Array, Uint8Array, TdxCrls]>([
    required(source, collateralKeys.tdxTcbInfo(fmspc)),
    required(source, collateralKeys.tdxQeIdentity()),
    required(source, collateralKeys.tcbSigningChain()),
    resolveTdxCrls(source, q),
  ]);
  return Object.freeze({ tcbInfo, qeIdentity, tcbSigningChain, ...crls });
}
