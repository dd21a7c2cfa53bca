/**
 * Collateral for `veritee evidence verify --collateral DIR`: where in the
 * directory each item lives (`<dir>/<kind>/<key>`, read by
 * `directoryCollateral`), and the typed error for an item that is needed
 * but absent. The lookup keys come from the still unverified evidence
 * (FMSPC, issuing CA, product); that is safe because the verifiers check
 * that the collateral they are given is for that evidence (TDX: FMSPC and
 * PCE ID, CRL issuer; SEV-SNP: CRL signed by the product's ARK).
 */
import { stat } from "node:fs/promises";
import { VeriteeError } from "@veritee/core";
import type { CollateralSource, TdxCollateral, TdxQuote } from "@veritee/evidence";
import { decodeCertificate, decodePckExtensions } from "@veritee/evidence";
import { directoryCollateral } from "@veritee/evidence/node";
import { CliError } from "../cli-error.js";

/** Codes of {@link CollateralError}. */
export type CollateralErrorCode = "collateral-missing";

/** Trust material the verification needs is not available (exit code 13). */
export class CollateralError extends VeriteeError<CollateralErrorCode> {
  readonly kind = "collateral" as const;
}

/** The collateral items and their keys, as documented in docs/CLI.md. */
export const COLLATERAL_LAYOUT = Object.freeze({
  /** Intel PCS TCB info (`/tdx/certification/v4/tcb`), keyed by the PCK certificate's FMSPC in lower-case hex. */
  tdxTcbInfo: "tdx-tcb-info",
  /** Intel PCS TDX QE identity (`/tdx/certification/v4/qe/identity`), key {@link TDX_QE_IDENTITY_KEY}. */
  tdxQeIdentity: "tdx-qe-identity",
  /** The TCB-Info-Issuer-Chain (PEM), key {@link INTEL_KEY}. */
  tcbSigningChain: "tcb-signing-chain",
  /** The PCK CRL of the PCK's issuing CA, keyed "platform" or "processor". */
  pckCrl: "pck-crl",
  /** The Intel SGX Root CA CRL, key {@link INTEL_KEY}. */
  rootCrl: "root-crl",
  /** AMD's CRL of ASKs/ASVKs (KDS `/vcek/v1/<product>/crl`), keyed by product ("Milan", "Genoa", "Turin"). */
  snpCrl: "crl",
});

/** The key of the TDX QE identity. */
export const TDX_QE_IDENTITY_KEY = "td";
/** The key of Intel's single-instance items (TCB signing chain, root CA CRL). */
export const INTEL_KEY = "intel";

/** A directory-backed source, after checking that the directory exists. */
export async function openCollateral(dir: string): Promise<CollateralSource> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (cause) {
    throw new CliError("file-not-found", `--collateral: no such directory: ${dir}`, { cause });
  }
  if (!isDir) throw new CliError("file-not-found", `--collateral: not a directory: ${dir}`);
  return directoryCollateral(dir);
}

function required(item: Uint8Array | undefined, kind: string, key: string): Uint8Array {
  if (item === undefined)
    throw new CollateralError("collateral-missing", `no ${kind}/${key} in the collateral directory`);
  return item;
}

/** The PCK CRL key of the CA that issued the quote's PCK certificate, or undefined for an unknown CA. */
function pckCaKey(quote: TdxQuote): "platform" | "processor" | undefined {
  const leaf = decodeCertificate(quote.certification.pckChain[0]!);
  const cn = leaf.issuer.attributes.find((a) => a.oid === "2.5.4.3")?.value ?? "";
  // Intel SGX PCK Certificate and CRL Profile §2: "Intel SGX PCK Platform CA" or "... Processor CA".
  if (/\bPlatform CA$/.test(cn)) return "platform";
  if (/\bProcessor CA$/.test(cn)) return "processor";
  return undefined;
}

/** The optional CRLs for a TDX quote: the PCK CRL of its issuing CA and the root CA CRL, when present. */
export async function tdxCrls(
  source: CollateralSource,
  quote: TdxQuote,
): Promise<{ pckCrl?: Uint8Array; rootCrl?: Uint8Array }> {
  const ca = pckCaKey(quote);
  const pckCrl = ca === undefined ? undefined : await source.get(COLLATERAL_LAYOUT.pckCrl, ca);
  const rootCrl = await source.get(COLLATERAL_LAYOUT.rootCrl, INTEL_KEY);
  return { ...(pckCrl === undefined ? {} : { pckCrl }), ...(rootCrl === undefined ? {} : { rootCrl }) };
}

/**
 * Everything `verifyTdxQuote` needs for `quote`: TCB info (by the PCK's
 * FMSPC), QE identity and the TCB signing chain are required
 * ({@link CollateralError} when absent); the CRLs are used when present.
 */
export async function tdxCollateral(source: CollateralSource, quote: TdxQuote): Promise<TdxCollateral> {
  const fmspc = decodePckExtensions(decodeCertificate(quote.certification.pckChain[0]!)).fmspc;
  const L = COLLATERAL_LAYOUT;
  const [tcbInfo, qeIdentity, tcbSigningChain, crls] = await Promise.all([
    source.get(L.tdxTcbInfo, fmspc),
    source.get(L.tdxQeIdentity, TDX_QE_IDENTITY_KEY),
    source.get(L.tcbSigningChain, INTEL_KEY),
    tdxCrls(source, quote),
  ]);
  return {
    tcbInfo: required(tcbInfo, L.tdxTcbInfo, fmspc),
    qeIdentity: required(qeIdentity, L.tdxQeIdentity, TDX_QE_IDENTITY_KEY),
    tcbSigningChain: required(tcbSigningChain, L.tcbSigningChain, INTEL_KEY),
    ...crls,
  };
}
