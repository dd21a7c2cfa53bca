/**
 * Verification of Intel TDX quotes, after the Intel TDX DCAP Quote
 * Verification Library's steps (Intel SGX ECDSA Quote Library Reference
 * "Quote Verification", and the TDX DCAP Quoting Library API Appendix A):
 *
 * 1. the QE is Intel's (header QE vendor ID);
 * 2. the PCK certificate chains to the Intel SGX Root CA at `at`, and is
 *    not revoked (PCK CRL of its issuing CA, root CA CRL for the CA);
 * 3. the PCK key signed the QE report;
 * 4. the QE report binds the attestation key: report_data[0..32] =
 *    SHA-256(attestation key ‖ QE authentication data), rest zero;
 * 5. the attestation key signed the quote header and body;
 * 6. with collateral: TCB info and QE identity are signed by Intel's TCB
 *    signing certificate (chained to the root, current at `at`); the TCB
 *    info is for this platform (FMSPC, PCE ID); the QE matches its identity
 *    (MRSIGNER, ISVPRODID, masked MISCSELECT and ATTRIBUTES) and its ISVSVN
 *    selects a QE TCB status; the TDX module matches its identity; the
 *    first TCB level the platform meets (SGX components and PCESVN from the
 *    PCK certificate, TDX components from TEE_TCB_SVN) gives the status.
 *
 * Steps 1–5 and the document and QE checks of step 6 are shared with SGX
 * (`../dcap/verify.ts`); the TDX module and TDX TCB components are TDX's own.
 *
 * Nothing here fetches anything: collateral comes in as bytes (see
 * `../collateral/` for the injectable, cached fetch side). Policy (which
 * statuses, which measurements) is `@veritee/policy`'s job.
 */
import { bytesEqual } from "@veritee/core";
import { DEFAULT_VERIFIED_CACHE_SIZE, VerifiedCache } from "../collateral/verified-cache.js";
import {
  assertValidTime,
  checkQeIdentity,
  type DcapRevocation,
  decodedCollateral,
  isvSvnStatus,
  maskedEqual,
  matchSgxComponents,
  verifyDcapCollateral,
  verifyDcapSignatures,
} from "../dcap/verify.js";
import { VerificationError } from "../errors.js";
import type { VerifiedCertificateChain } from "../x509/chain.js";
import {
  decodeTdxQeIdentity,
  decodeTdxTcbInfo,
  type IsvSvnTcbLevel,
  type TdxQeIdentity,
  type TdxTcbInfo,
  type TdxTcbLevel,
  type TdxTcbStatus,
} from "./collateral.js";
import { decodeTdxQuote, type TdxQuote, type TdxQuoteBody } from "./decode.js";
import type { PckExtensions } from "./pck-extensions.js";
import { intelSgxRootCa } from "./roots.js";

export { INTEL_QE_VENDOR_ID } from "../dcap/verify.js";

/** Inputs of {@link verifyTdxQuoteSignatures}. */
export interface VerifyTdxQuoteSignaturesOptions {
  /** The quote's bytes (decoded strictly) or an already decoded quote. */
  readonly quote: Uint8Array | TdxQuote;
  /** The time to validate certificates and CRLs at; never an implicit "now". */
  readonly at: Date;
  /** Trust anchors (DER); default: the embedded Intel SGX Root CA. */
  readonly roots?: readonly Uint8Array[];
  /** The CRL of the CA that issued the PCK certificate (DER or PEM). */
  readonly pckCrl?: Uint8Array | string;
  /** The Intel SGX Root CA's CRL (DER or PEM), covering the intermediate CA. */
  readonly rootCrl?: Uint8Array | string;
}

/** Already fetched collateral for {@link verifyTdxQuote}. */
export interface TdxCollateral {
  /** The TCB info response body, or an already decoded one. */
  readonly tcbInfo: Uint8Array | string | TdxTcbInfo;
  /** The QE identity response body, or an already decoded one. */
  readonly qeIdentity: Uint8Array | string | TdxQeIdentity;
  /**
   * The TCB signing chain (PCS header TCB-Info-Issuer-Chain): PEM text, or
   * DER certificates leaf first. It must end at one of the roots.
   */
  readonly tcbSigningChain: string | Uint8Array | readonly Uint8Array[];
  readonly pckCrl?: Uint8Array | string;
  readonly rootCrl?: Uint8Array | string;
}

/** Inputs of {@link verifyTdxQuote}. */
export interface VerifyTdxQuoteOptions {
  readonly quote: Uint8Array | TdxQuote;
  readonly collateral: TdxCollateral;
  readonly at: Date;
  readonly roots?: readonly Uint8Array[];
}

/** Which revocation lists were checked. */
export type TdxRevocation = DcapRevocation;

const CONSTRUCT: unique symbol = Symbol("VerifiedTdx");

/**
 * A quote whose signatures {@link verifyTdxQuoteSignatures} proved (steps
 * 1–5 of the module comment), without TCB evaluation. Only the verifier
 * constructs it; policy does not accept it (it needs {@link VerifiedTdxQuote}).
 */
export class VerifiedTdxQuoteSignatures {
  readonly quote: TdxQuote;
  readonly pckChain: VerifiedCertificateChain;
  readonly pck: PckExtensions;
  readonly revocation: TdxRevocation;
  readonly verifiedAt: Date;

  /** @internal Use {@link verifyTdxQuoteSignatures}. */
  constructor(
    token: typeof CONSTRUCT,
    quote: TdxQuote,
    pckChain: VerifiedCertificateChain,
    pck: PckExtensions,
    revocation: TdxRevocation,
    at: Date,
  ) {
    if (token !== CONSTRUCT) throw new TypeError("created by verifyTdxQuoteSignatures only");
    this.quote = quote;
    this.pckChain = pckChain;
    this.pck = pck;
    this.revocation = Object.freeze({ ...revocation });
    this.verifiedAt = new Date(at.getTime());
    Object.freeze(this);
  }
}

/** The TCB verdicts of a fully verified quote. */
export interface TdxTcbVerdict {
  /** The platform's TCB level status (TCB info `tcbLevels`). */
  readonly platform: TdxTcbStatus;
  /** The QE's status (QE identity `tcbLevels`). */
  readonly qe: TdxTcbStatus;
  /** The TDX module's status, for module versions above 0 (TCB info `tdxModuleIdentities`). */
  readonly module?: TdxTcbStatus;
  /** Advisories of the platform, QE and module levels, sorted, each once. */
  readonly advisoryIds: readonly string[];
  /** The matched platform level's date. */
  readonly tcbDate: Date;
  /** The TCB evaluation data number of the TCB info used. */
  readonly tcbEvaluationDataNumber: number;
}

/**
 * A quote that {@link verifyTdxQuote} proved: every signature, chain,
 * binding and collateral check passed at `verifiedAt`, and its TCB status
 * is known. Only the verifier constructs it; the TDX policy evaluator
 * accepts nothing else.
 */
export class VerifiedTdxQuote {
  readonly quote: TdxQuote;
  /** The TD report body: the measurements policy checks. */
  readonly body: TdxQuoteBody;
  readonly pckChain: VerifiedCertificateChain;
  readonly pck: PckExtensions;
  readonly revocation: TdxRevocation;
  readonly tcb: TdxTcbVerdict;
  readonly verifiedAt: Date;

  /** @internal Use {@link verifyTdxQuote}. */
  constructor(token: typeof CONSTRUCT, base: VerifiedTdxQuoteSignatures, tcb: TdxTcbVerdict) {
    if (token !== CONSTRUCT) throw new TypeError("VerifiedTdxQuote is created by verifyTdxQuote only");
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

/**
 * Verify a TDX quote's PCK chain, QE report signature, attestation key
 * binding and quote signature (steps 1–5), without collateral. Throws
 * `VerificationError` (tdx-qe-vendor, cert-*, crl-*, cert-revoked,
 * tdx-qe-report-signature, tdx-qe-binding, tdx-quote-signature) or
 * `MalformedError`.
 *
 * @example
 * const v = await verifyTdxQuoteSignatures({ quote: bytes, at: new Date("2023-06-20T00:00:00Z") });
 * v.pck.fmspc;
 */
export function verifyTdxQuoteSignatures(
  options: VerifyTdxQuoteSignaturesOptions,
): Promise<VerifiedTdxQuoteSignatures> {
  return signaturesWith(options, undefined);
}

async function signaturesWith(
  options: VerifyTdxQuoteSignaturesOptions,
  cache: VerifiedCache | undefined,
): Promise<VerifiedTdxQuoteSignatures> {
  const { at } = options;
  assertValidTime(at);
  const quote = options.quote instanceof Uint8Array ? decodeTdxQuote(options.quote) : options.quote;
  const roots = options.roots ?? [intelSgxRootCa()];
  const {
    pckChain: chain,
    pck,
    revocation,
  } = await verifyDcapSignatures(
    { tee: "tdx", quote, at, roots, pckCrl: options.pckCrl, rootCrl: options.rootCrl },
    cache,
  );
  return new VerifiedTdxQuoteSignatures(CONSTRUCT, quote, chain, pck, revocation, at);
}

function checkModule(tcbInfo: TdxTcbInfo, body: TdxQuoteBody): IsvSvnTcbLevel | undefined {
  // TEE_TCB_SVN[1] is the TDX module's major version; version 0 modules use `tdxModule`.
  const version = body.teeTcbSvn[1]!;
  const identity =
    version === 0
      ? { ...tcbInfo.tdxModule, tcbLevels: undefined }
      : tcbInfo.tdxModuleIdentities.find((m) => m.id === `TDX_${version.toString(16).toUpperCase().padStart(2, "0")}`);
  if (identity === undefined)
    throw new VerificationError("tdx-module-mismatch", "no identity for this TDX module version");
  if (
    !bytesEqual(body.mrSignerSeam, identity.mrSigner) ||
    !maskedEqual(body.seamAttributes, identity.attributesMask, identity.attributes)
  ) {
    throw new VerificationError("tdx-module-mismatch", "the TDX module's signer or attributes are not Intel's");
  }
  if (identity.tcbLevels === undefined) return undefined;
  const level = isvSvnStatus(identity.tcbLevels, body.teeTcbSvn[0]!);
  if (!level) throw new VerificationError("tdx-tcb-not-supported", "the TDX module's SVN is below every module level");
  return level;
}

function platformLevel(tcbInfo: TdxTcbInfo, pck: PckExtensions, body: TdxQuoteBody): TdxTcbLevel {
  // With a module version above 0 the first two TEE_TCB_SVN bytes are the module's, judged by its identity.
  const skip = body.teeTcbSvn[1]! > 0 ? 2 : 0;
  const level = matchSgxComponents(tcbInfo.tcbLevels, pck, (l) =>
    l.tdxTcbComponents.every((svn, i) => i < skip || body.teeTcbSvn[i]! >= svn),
  );
  if (!level) throw new VerificationError("tdx-tcb-not-supported", "the platform's TCB is below every TCB level");
  return level;
}

/**
 * Verify a TDX quote completely: {@link verifyTdxQuoteSignatures}, then the
 * collateral and TCB steps (step 6 of the module comment). Throws
 * `VerificationError` (the codes above, plus collateral-signer,
 * collateral-signature-invalid, collateral-expired, collateral-not-yet-valid,
 * collateral-mismatch, tdx-qe-identity-mismatch, tdx-qe-tcb-not-supported,
 * tdx-module-mismatch, tdx-tcb-not-supported) or `MalformedError`.
 *
 * @example
 * const verified = await verifyTdxQuote({
 *   quote, at, collateral: { tcbInfo, qeIdentity, tcbSigningChain, pckCrl, rootCrl },
 * });
 * verified.tcb.platform; // "UpToDate"
 */
export function verifyTdxQuote(options: VerifyTdxQuoteOptions): Promise<VerifiedTdxQuote> {
  return verifyWith(options, options.roots ?? [intelSgxRootCa()], undefined);
}

async function verifyWith(
  options: Omit<VerifyTdxQuoteOptions, "roots">,
  roots: readonly Uint8Array[],
  cache: VerifiedCache | undefined,
): Promise<VerifiedTdxQuote> {
  const { collateral, at } = options;
  const tcbInfo =
    typeof collateral.tcbInfo === "string" || collateral.tcbInfo instanceof Uint8Array
      ? await decodedCollateral(cache, "tdx-tcb-info", collateral.tcbInfo, decodeTdxTcbInfo)
      : collateral.tcbInfo;
  const qeIdentity =
    typeof collateral.qeIdentity === "string" || collateral.qeIdentity instanceof Uint8Array
      ? await decodedCollateral(cache, "tdx-qe-identity", collateral.qeIdentity, decodeTdxQeIdentity)
      : collateral.qeIdentity;
  // A decoded document handed in must still be the TD QE's: the SGX QE identity does not describe it.
  if (qeIdentity.id !== "TD_QE") {
    throw new VerificationError("collateral-mismatch", "the QE identity is not the TD QE's (id TD_QE)");
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

  const qe = checkQeIdentity("tdx", qeIdentity, base.quote.certification.qeReport);
  const body = base.quote.body;
  const module = checkModule(tcbInfo, body);
  const level = platformLevel(tcbInfo, base.pck, body);
  const advisoryIds = [...new Set([...level.advisoryIds, ...qe.advisoryIds, ...(module?.advisoryIds ?? [])])].sort();
  return new VerifiedTdxQuote(CONSTRUCT, base, {
    platform: level.tcbStatus,
    qe: qe.tcbStatus,
    ...(module === undefined ? {} : { module: module.tcbStatus }),
    advisoryIds: Object.freeze(advisoryIds),
    tcbDate: level.tcbDate,
    tcbEvaluationDataNumber: tcbInfo.tcbEvaluationDataNumber,
  });
}

/** Options of {@link createTdxVerifier}. */
export interface TdxVerifierOptions {
  /** Trust anchors (DER); default: the embedded Intel SGX Root CA. */
  readonly roots?: readonly Uint8Array[];
  /** The most verified items kept (PCK chains, CRLs, collateral documents); default 64. */
  readonly cacheSize?: number;
}

/** Inputs of {@link TdxVerifier.verify}: {@link VerifyTdxQuoteOptions} without roots (the verifier's). */
export type TdxVerifierInput = Omit<VerifyTdxQuoteOptions, "roots">;

/**
 * A TDX verifier with a cache of verified collateral: see {@link createTdxVerifier}.
 */
export interface TdxVerifier {
  /** Like {@link verifyTdxQuote}, reusing verified collateral. Same checks, same errors. */
  verify(options: TdxVerifierInput): Promise<VerifiedTdxQuote>;
  /** Like {@link verifyTdxQuoteSignatures}, reusing verified PCK chains and CRLs. */
  verifySignatures(options: Omit<VerifyTdxQuoteSignaturesOptions, "roots">): Promise<VerifiedTdxQuoteSignatures>;
  /** Entries cached now. */
  readonly size: number;
  /** Forget every cached result. */
  clear(): void;
}

/**
 * A TDX verifier for many quotes: full verification costs about twelve
 * ECDSA checks, most of them on collateral that every quote of a platform
 * shares (the PCK chain, the root CA and PCK CRLs, the TCB signing chain
 * once for TCB info and again for QE identity). This verifier keeps those
 * results in a bounded LRU cache keyed by SHA-256 of the exact bytes, each
 * reused only while its validity window covers the new `at` (certificate
 * notBefore/notAfter, CRL thisUpdate/nextUpdate, collateral
 * issueDate/nextUpdate); outside it, the full check runs and fails as the
 * functional API would. Never cached: the quote and QE report signatures,
 * the attestation key binding, revocation of the quote's PCK and CA
 * certificates (looked up on every call), FMSPC/PCE ID matching and the TCB
 * evaluation. `pckChain.verifiedAt` is when that chain was first verified.
 *
 * @example
 * const verifier = createTdxVerifier({ cacheSize: 32 });
 * const verified = await verifier.verify({ quote, collateral, at: new Date() });
 */
export function createTdxVerifier(options: TdxVerifierOptions = {}): TdxVerifier {
  const roots = Object.freeze((options.roots ?? [intelSgxRootCa()]).map((r) => Uint8Array.from(r)));
  const cache = new VerifiedCache(options.cacheSize ?? DEFAULT_VERIFIED_CACHE_SIZE);
  return Object.freeze({
    verify: (input: TdxVerifierInput) => verifyWith(input, roots, cache),
    verifySignatures: (input: Omit<VerifyTdxQuoteSignaturesOptions, "roots">) =>
      signaturesWith({ ...input, roots }, cache),
    get size() {
      return cache.size;
    },
    clear: () => cache.clear(),
  });
}
