/**
 * Verification of Intel SGX quotes (version 3), after the Intel SGX ECDSA
 * Quote Library Reference "Quote Verification" (DCAP):
 *
 * 1–5. as for every DCAP quote (`../dcap/verify.ts`): Intel's QE, the PCK
 *    chain to the Intel SGX Root CA at `at` with the CRLs given, the QE
 *    report signed by the PCK key and binding the attestation key, and the
 *    quote (header ‖ ISV enclave report body) signed by the attestation key;
 * 6. with collateral: SGX TCB info (id "SGX") and SGX QE identity (id "QE")
 *    signed by Intel's TCB signing certificate and current at `at`; the TCB
 *    info is for the PCK's FMSPC and PCE ID; the QE matches its identity and
 *    its ISVSVN selects a QE TCB status; the first TCB level whose 16 SGX
 *    components and PCE SVN the PCK certificate meets gives the platform's
 *    status.
 *
 * The enclave's own identity (MRENCLAVE, MRSIGNER, ISVPRODID, ISVSVN,
 * attributes, report data) is proven here but judged by `@veritee/policy`.
 * Nothing here fetches anything: collateral comes in as bytes.
 */
import { DEFAULT_VERIFIED_CACHE_SIZE, VerifiedCache } from "../collateral/verified-cache.js";
import type { DcapTcbStatus } from "../dcap/collateral.js";
import type { SgxReportBody } from "../dcap/quote.js";
import {
  assertValidTime,
  checkQeIdentity,
  type DcapRevocation,
  decodedCollateral,
  matchSgxComponents,
  verifyDcapCollateral,
  verifyDcapSignatures,
} from "../dcap/verify.js";
import { VerificationError } from "../errors.js";
import type { PckExtensions } from "../tdx/pck-extensions.js";
import { intelSgxRootCa } from "../tdx/roots.js";
import type { VerifiedCertificateChain } from "../x509/chain.js";
import { decodeSgxQeIdentity, decodeSgxTcbInfo, type SgxQeIdentity, type SgxTcbInfo } from "./collateral.js";
import { decodeSgxQuote, type SgxQuote } from "./decode.js";

/** Inputs of {@link verifySgxQuoteSignatures}. */
export interface VerifySgxQuoteSignaturesOptions {
  /** The quote's bytes (decoded strictly) or an already decoded quote. */
  readonly quote: Uint8Array | SgxQuote;
  /** The time to validate certificates and CRLs at; never an implicit "now". */
  readonly at: Date;
  /** Trust anchors (DER); default: the embedded Intel SGX Root CA. */
  readonly roots?: readonly Uint8Array[];
  /** The CRL of the CA that issued the PCK certificate (DER or PEM). */
  readonly pckCrl?: Uint8Array | string;
  /** The Intel SGX Root CA's CRL (DER or PEM), covering the intermediate CA and the TCB signer. */
  readonly rootCrl?: Uint8Array | string;
}

/** Already fetched collateral for {@link verifySgxQuote}. */
export interface SgxCollateral {
  /** The SGX TCB info response body, or an already decoded one. */
  readonly tcbInfo: Uint8Array | string | SgxTcbInfo;
  /** The SGX QE identity response body, or an already decoded one. */
  readonly qeIdentity: Uint8Array | string | SgxQeIdentity;
  /** The TCB signing chain: PEM text, or DER certificates leaf first. It must end at one of the roots. */
  readonly tcbSigningChain: string | Uint8Array | readonly Uint8Array[];
  readonly pckCrl?: Uint8Array | string;
  readonly rootCrl?: Uint8Array | string;
}

/** Inputs of {@link verifySgxQuote}. */
export interface VerifySgxQuoteOptions {
  readonly quote: Uint8Array | SgxQuote;
  readonly collateral: SgxCollateral;
  readonly at: Date;
  readonly roots?: readonly Uint8Array[];
}

const CONSTRUCT: unique symbol = Symbol("VerifiedSgx");

/**
 * An SGX quote whose signatures {@link verifySgxQuoteSignatures} proved
 * (steps 1–5), without TCB evaluation. Policy does not accept it.
 */
export class VerifiedSgxQuoteSignatures {
  readonly quote: SgxQuote;
  readonly pckChain: VerifiedCertificateChain;
  readonly pck: PckExtensions;
  readonly revocation: DcapRevocation;
  readonly verifiedAt: Date;

  /** @internal Use {@link verifySgxQuoteSignatures}. */
  constructor(
    token: typeof CONSTRUCT,
    quote: SgxQuote,
    pckChain: VerifiedCertificateChain,
    pck: PckExtensions,
    revocation: DcapRevocation,
    at: Date,
  ) {
    if (token !== CONSTRUCT) throw new TypeError("created by verifySgxQuoteSignatures only");
    this.quote = quote;
    this.pckChain = pckChain;
    this.pck = pck;
    this.revocation = Object.freeze({ ...revocation });
    this.verifiedAt = new Date(at.getTime());
    Object.freeze(this);
  }
}

/** The TCB verdicts of a fully verified SGX quote. */
export interface SgxTcbVerdict {
  /** The platform's TCB level status (SGX TCB info `tcbLevels`). */
  readonly platform: DcapTcbStatus;
  /** The QE's status (SGX QE identity `tcbLevels`). */
  readonly qe: DcapTcbStatus;
  /** Advisories of the platform and QE levels, sorted, each once. */
  readonly advisoryIds: readonly string[];
  /** The matched platform level's date. */
  readonly tcbDate: Date;
  /** The TCB evaluation data number of the TCB info used. */
  readonly tcbEvaluationDataNumber: number;
}

/**
 * An SGX quote that {@link verifySgxQuote} proved: every signature, chain,
 * binding and collateral check passed at `verifiedAt`, and its TCB status
 * is known. Only the verifier constructs it; the SGX policy evaluator
 * accepts nothing else.
 */
export class VerifiedSgxQuote {
  readonly quote: SgxQuote;
  /** The ISV enclave's report body: the identity policy checks. */
  readonly body: SgxReportBody;
  readonly pckChain: VerifiedCertificateChain;
  readonly pck: PckExtensions;
  readonly revocation: DcapRevocation;
  readonly tcb: SgxTcbVerdict;
  readonly verifiedAt: Date;

  /** @internal Use {@link verifySgxQuote}. */
  constructor(token: typeof CONSTRUCT, base: VerifiedSgxQuoteSignatures, tcb: SgxTcbVerdict) {
    if (token !== CONSTRUCT) throw new TypeError("VerifiedSgxQuote is created by verifySgxQuote only");
    this.quote = base.quote;
    this.body = base.quote.body;
    this.pckChain = base.pckChain;
    this.pck = base.pck;
    this.revocation = base.revocation;
    this.tcb = Object.freeze({ ...tcb });
    this.verifiedAt = base.verifiedAt;
    Object.freeze(this);
  }
}

async function signaturesWith(
  options: VerifySgxQuoteSignaturesOptions,
  cache: VerifiedCache | undefined,
): Promise<VerifiedSgxQuoteSignatures> {
  const { at } = options;
  assertValidTime(at);
  const quote = options.quote instanceof Uint8Array ? decodeSgxQuote(options.quote) : options.quote;
  const roots = options.roots ?? [intelSgxRootCa()];
  const v = await verifyDcapSignatures(
    { tee: "sgx", quote, at, roots, pckCrl: options.pckCrl, rootCrl: options.rootCrl },
    cache,
  );
  return new VerifiedSgxQuoteSignatures(CONSTRUCT, quote, v.pckChain, v.pck, v.revocation, at);
}

/**
 * Verify an SGX quote's PCK chain, QE report signature, attestation key
 * binding and quote signature (steps 1–5), without collateral. Throws
 * `VerificationError` (sgx-qe-vendor, cert-*, crl-*, cert-revoked,
 * sgx-qe-report-signature, sgx-qe-binding, sgx-quote-signature) or
 * `MalformedError`.
 *
 * @example
 * const v = await verifySgxQuoteSignatures({ quote: bytes, at: new Date("2025-08-20T00:00:00Z") });
 * v.pck.fmspc; // "00606a000000"
 */
export function verifySgxQuoteSignatures(
  options: VerifySgxQuoteSignaturesOptions,
): Promise<VerifiedSgxQuoteSignatures> {
  return signaturesWith(options, undefined);
}

async function verifyWith(
  options: Omit<VerifySgxQuoteOptions, "roots">,
  roots: readonly Uint8Array[],
  cache: VerifiedCache | undefined,
): Promise<VerifiedSgxQuote> {
  const { collateral, at } = options;
  const tcbInfo =
    typeof collateral.tcbInfo === "string" || collateral.tcbInfo instanceof Uint8Array
      ? await decodedCollateral(cache, "sgx-tcb-info", collateral.tcbInfo, decodeSgxTcbInfo)
      : collateral.tcbInfo;
  const qeIdentity =
    typeof collateral.qeIdentity === "string" || collateral.qeIdentity instanceof Uint8Array
      ? await decodedCollateral(cache, "sgx-qe-identity", collateral.qeIdentity, decodeSgxQeIdentity)
      : collateral.qeIdentity;
  // A decoded document handed in must still be the SGX one: a TD QE identity does not describe the SGX QE.
  if (qeIdentity.id !== "QE") {
    throw new VerificationError("collateral-mismatch", "the QE identity is not the SGX QE's (id QE)");
  }
  const base = await signaturesWith(
    {
      quote: options.quote,
      at,
      roots,
      ...(collateral.pckCrl === undefined ? {} : { pckCrl: collateral.pckCrl }),
      ...(collateral.rootCrl === undefined ? {} : { rootCrl: collateral.rootCrl }),
    },
    cache,
  );
  await verifyDcapCollateral(
    {
      tcbInfo,
      qeIdentity,
      tcbSigningChain: collateral.tcbSigningChain,
      rootCrl: collateral.rootCrl,
      pck: base.pck,
      roots,
      at,
    },
    cache,
  );
  const qe = checkQeIdentity("sgx", qeIdentity, base.quote.certification.qeReport);
  const level = matchSgxComponents(tcbInfo.tcbLevels, base.pck);
  if (!level) throw new VerificationError("sgx-tcb-not-supported", "the platform's TCB is below every TCB level");
  const advisoryIds = [...new Set([...level.advisoryIds, ...qe.advisoryIds])].sort();
  return new VerifiedSgxQuote(CONSTRUCT, base, {
    platform: level.tcbStatus,
    qe: qe.tcbStatus,
    advisoryIds: Object.freeze(advisoryIds),
    tcbDate: level.tcbDate,
    tcbEvaluationDataNumber: tcbInfo.tcbEvaluationDataNumber,
  });
}

/**
 * Verify an SGX quote completely: {@link verifySgxQuoteSignatures}, then
 * the collateral and TCB steps (step 6 of the module comment). Throws
 * `VerificationError` (the codes above, plus collateral-signer,
 * collateral-signature-invalid, collateral-expired, collateral-not-yet-valid,
 * collateral-mismatch, sgx-qe-identity-mismatch, sgx-qe-tcb-not-supported,
 * sgx-tcb-not-supported) or `MalformedError`.
 *
 * @example
 * const verified = await verifySgxQuote({ quote, at, collateral: { tcbInfo, qeIdentity, tcbSigningChain } });
 * verified.tcb.platform; // "SWHardeningNeeded"
 */
export function verifySgxQuote(options: VerifySgxQuoteOptions): Promise<VerifiedSgxQuote> {
  return verifyWith(options, options.roots ?? [intelSgxRootCa()], undefined);
}

/** Options of {@link createSgxVerifier}. */
export interface SgxVerifierOptions {
  /** Trust anchors (DER); default: the embedded Intel SGX Root CA. */
  readonly roots?: readonly Uint8Array[];
  /** The most verified items kept (PCK chains, CRLs, collateral documents); default 64. */
  readonly cacheSize?: number;
}

/** An SGX verifier with a cache of verified collateral, as `createTdxVerifier` is for TDX. */
export interface SgxVerifier {
  /** Like {@link verifySgxQuote}, reusing verified collateral. Same checks, same errors. */
  verify(options: Omit<VerifySgxQuoteOptions, "roots">): Promise<VerifiedSgxQuote>;
  /** Like {@link verifySgxQuoteSignatures}, reusing verified PCK chains and CRLs. */
  verifySignatures(options: Omit<VerifySgxQuoteSignaturesOptions, "roots">): Promise<VerifiedSgxQuoteSignatures>;
  /** Entries cached now. */
  readonly size: number;
  /** Forget every cached result. */
  clear(): void;
}

/**
 * An SGX verifier for many quotes, with the same bounded cache and the same
 * rules on what is reused as `createTdxVerifier`: only the time-independent
 * checks of shared collateral, each within its validity window; never the
 * quote's own signatures, binding, revocation look-ups or TCB evaluation.
 *
 * @example
 * const verifier = createSgxVerifier();
 * const verified = await verifier.verify({ quote, collateral, at: new Date() });
 */
export function createSgxVerifier(options: SgxVerifierOptions = {}): SgxVerifier {
  const roots = Object.freeze((options.roots ?? [intelSgxRootCa()]).map((r) => Uint8Array.from(r)));
  const cache = new VerifiedCache(options.cacheSize ?? DEFAULT_VERIFIED_CACHE_SIZE);
  return Object.freeze({
    verify: (input: Omit<VerifySgxQuoteOptions, "roots">) => verifyWith(input, roots, cache),
    verifySignatures: (input: Omit<VerifySgxQuoteSignaturesOptions, "roots">) =>
      signaturesWith({ ...input, roots }, cache),
    get size() {
      return cache.size;
    },
    clear: () => cache.clear(),
  });
}
