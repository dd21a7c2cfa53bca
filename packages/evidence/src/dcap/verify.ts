/**
 * The verification steps Intel SGX and TDX quotes share (Intel SGX ECDSA
 * Quote Library Reference, "Quote Verification"; the TDX DCAP Quoting
 * Library API Appendix A), used by `../tdx/verify.ts` and `../sgx/verify.ts`:
 *
 * 1. the QE is Intel's (header QE vendor ID);
 * 2. the PCK certificate chains to the Intel SGX Root CA at `at`, and is
 *    not revoked (PCK CRL of its issuing CA, root CA CRL for the CA);
 * 3. the PCK key signed the QE report;
 * 4. the QE report binds the attestation key: report_data[0..32] =
 *    SHA-256(attestation key ‖ QE authentication data), rest zero;
 * 5. the attestation key signed the quote header and body;
 * 6. with collateral: TCB info and QE identity are signed by Intel's TCB
 *    signing certificate (chained to the root, current at `at`, not on the
 *    root CA CRL), the TCB info is for this platform (FMSPC, PCE ID), and
 *    the QE matches its identity (MRSIGNER, ISVPRODID, masked MISCSELECT
 *    and ATTRIBUTES) and its ISVSVN selects a QE TCB status.
 *
 * Error codes carry the TEE: `tdx-qe-binding` for a TD quote,
 * `sgx-qe-binding` for an SGX quote. The optional cache reuses only
 * time-independent results inside their validity windows (see
 * `../collateral/verified-cache.ts`).
 */
import {
  base64urlEncode,
  bytesEqual,
  hash,
  importPublicJwk,
  type PublicKeyHandle,
  toHex,
  verifySignature,
} from "@veritee/core";
import { chainValidAt, crlValidAt, inputBytes, maybeCached, type VerifiedCache } from "../collateral/verified-cache.js";
import { VerificationError } from "../errors.js";
import { decodePckExtensions, type PckExtensions } from "../tdx/pck-extensions.js";
import { decodePemCertificates } from "../tdx/pem.js";
import type { DecodedCertificate } from "../x509/certificate.js";
import { type VerifiedCertificateChain, verifyCertificateChain } from "../x509/chain.js";
import { type VerifiedCrl, verifyCrl } from "../x509/crl.js";
import { publicKeyToJwk } from "../x509/public-key.js";
import {
  type DcapQeIdentity,
  type DcapSignedDocument,
  type IsvSvnTcbLevel,
  verifyCollateralSignature,
} from "./collateral.js";
import type { DcapQeCertificationData, DcapQuoteHeader, SgxReportBody } from "./quote.js";

/** Intel's QE vendor ID (DCAP Quote Library API §A.4.3). */
export const INTEL_QE_VENDOR_ID = "939a7233f79c4ca9940a0db3957f0607";

/** Which TEE a quote is from; it prefixes the error codes. */
export type DcapTee = "tdx" | "sgx";

/** What steps 1–5 need of a decoded quote, either TEE. */
export interface DcapQuoteLike {
  readonly header: DcapQuoteHeader;
  readonly signedData: Uint8Array;
  readonly signature: Uint8Array;
  readonly attestationKey: Uint8Array;
  readonly certification: DcapQeCertificationData;
}

/** Which revocation lists were checked. */
export interface DcapRevocation {
  readonly pckCrl: boolean;
  readonly rootCrl: boolean;
}

/** What steps 1–5 proved. */
export interface DcapSignatures {
  readonly pckChain: VerifiedCertificateChain;
  readonly pck: PckExtensions;
  readonly revocation: DcapRevocation;
}

/** Inputs of {@link verifyDcapSignatures}. */
export interface DcapSignatureInputs {
  readonly tee: DcapTee;
  readonly quote: DcapQuoteLike;
  readonly at: Date;
  readonly roots: readonly Uint8Array[];
  readonly pckCrl?: Uint8Array | string | undefined;
  readonly rootCrl?: Uint8Array | string | undefined;
}

/** Throws TypeError unless `at` is a valid Date: a verification time is never implicit. */
export function assertValidTime(at: unknown): asserts at is Date {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new TypeError("`at` must be a valid Date");
}

function p256FromRaw(raw: Uint8Array, what: string, code: `${DcapTee}-quote-signature`) {
  try {
    return importPublicJwk({
      kty: "EC",
      crv: "P-256",
      x: base64urlEncode(raw.subarray(0, 32)),
      y: base64urlEncode(raw.subarray(32, 64)),
    });
  } catch (cause) {
    // A point off the curve cannot have signed anything.
    throw new VerificationError(code, `${what} is not a P-256 point`, { cause });
  }
}

/** A CRL verified against `issuer` (signature, issuer, window), reused from `cache` while current at `at`. */
export function crlOf(
  cache: VerifiedCache | undefined,
  crl: Uint8Array | string,
  issuer: DecodedCertificate,
  at: Date,
): Promise<VerifiedCrl> {
  return maybeCached(cache, "crl", [inputBytes(crl), issuer.der], at, () => verifyCrl({ crl, issuer, at }), crlValidAt);
}

/** A public key imported from exactly these bytes (a failed import throws and is not cached). */
function keyOf(
  cache: VerifiedCache | undefined,
  label: string,
  bytes: Uint8Array,
  load: () => PublicKeyHandle,
): Promise<PublicKeyHandle> | PublicKeyHandle {
  if (cache === undefined) return load();
  return cache.get(
    `key:${label}`,
    [bytes],
    new Date(0),
    async () => load(),
    () => true,
  );
}

async function checkCrls(
  chain: VerifiedCertificateChain,
  at: Date,
  pckCrl: Uint8Array | string | undefined,
  rootCrl: Uint8Array | string | undefined,
  cache: VerifiedCache | undefined,
): Promise<DcapRevocation> {
  // Revocation of this quote's certificates is looked up on every call; only the CRLs' own checks are reused.
  if (rootCrl !== undefined) {
    const root = await crlOf(cache, rootCrl, chain.anchor, at);
    for (let i = 1; i < chain.path.length - 1; i++) root.assertNotRevoked(chain.path[i]!, `PCK chain certificate ${i}`);
  }
  if (pckCrl !== undefined) {
    const crl = await crlOf(cache, pckCrl, chain.path[1]!, at);
    crl.assertNotRevoked(chain.leaf, "the PCK certificate");
  }
  return Object.freeze({ pckCrl: pckCrl !== undefined, rootCrl: rootCrl !== undefined });
}

/**
 * Steps 1–5 of the module comment for a decoded quote of either TEE.
 * Throws `VerificationError` (`<tee>-qe-vendor`, cert-*, crl-*,
 * cert-revoked, `<tee>-qe-report-signature`, `<tee>-qe-binding`,
 * `<tee>-quote-signature`) or `MalformedError`.
 */
export async function verifyDcapSignatures(
  inputs: DcapSignatureInputs,
  cache: VerifiedCache | undefined,
): Promise<DcapSignatures> {
  const { tee, quote, at, roots } = inputs;
  if (toHex(quote.header.qeVendorId) !== INTEL_QE_VENDOR_ID) {
    throw new VerificationError(`${tee}-qe-vendor`, "the quote is not from Intel's quoting enclave");
  }
  const cert = quote.certification;
  // The chain's own root is never a trust anchor: only `roots` are.
  const [leaf, ...intermediates] = cert.pckChain;
  // Cached by the exact certificates (leaf included) and anchors: a signature over given bytes verifies at
  // any time; the windows are re-checked at `at` (chainValidAt) before a cached chain is used.
  const chain = await maybeCached(
    cache,
    `dcap-pck-chain:${roots.length}`,
    [...roots, ...cert.pckChain],
    at,
    () => verifyCertificateChain({ leaf: leaf!, intermediates, roots, at, maxDepth: 3 }),
    chainValidAt,
  );
  // Intel's chain carries its root too; every certificate sent must be the one the path used, so the
  // quote cannot smuggle in a different "root" (or unrelated certificates) beside a valid path.
  if (
    cert.pckChain.length !== chain.path.length ||
    !cert.pckChain.every((der, i) => bytesEqual(der, chain.path[i]!.der))
  ) {
    throw new VerificationError("cert-untrusted-root", "the quote's PCK chain is not exactly the verified path");
  }
  const pck = decodePckExtensions(chain.leaf);
  const revocation = await checkCrls(chain, at, inputs.pckCrl, inputs.rootCrl, cache);

  const pckKey = chain.leaf.publicKey;
  if (pckKey.kind !== "ec" || pckKey.curve !== "P-256") {
    throw new VerificationError(`${tee}-qe-report-signature`, "the PCK key is not P-256");
  }
  const ecdsa = { kind: "ecdsa", hash: "sha256" } as const;
  // Importing a key is not a check, only work: with a cache, each distinct key is imported once.
  const pckHandle = await keyOf(cache, "pck", chain.leaf.spki, () => importPublicJwk(publicKeyToJwk(pckKey)));
  const qeOk = await verifySignature(ecdsa, pckHandle, cert.qeReport.raw, cert.qeReportSignature);
  if (!qeOk) throw new VerificationError(`${tee}-qe-report-signature`, "the QE report is not signed by the PCK key");

  // The QE vouches for the attestation key by hashing it into its own report data.
  const expected = hash("sha256", quote.attestationKey, cert.qeAuthData);
  const reportData = cert.qeReport.reportData;
  if (!bytesEqual(reportData.subarray(0, 32), expected) || reportData.subarray(32).some((b) => b !== 0)) {
    throw new VerificationError(`${tee}-qe-binding`, "the QE report does not bind the attestation key");
  }
  const attKey = await keyOf(cache, "attestation", quote.attestationKey, () =>
    p256FromRaw(quote.attestationKey, "the attestation key", `${tee}-quote-signature`),
  );
  if (!(await verifySignature(ecdsa, attKey, quote.signedData, quote.signature))) {
    throw new VerificationError(`${tee}-quote-signature`, "the quote is not signed by the attestation key");
  }
  return Object.freeze({ pckChain: chain, pck, revocation });
}

/** The TCB signing chain as DER certificates, leaf first: PEM text or bytes, or DER already. */
export function signingChainDer(input: string | Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  if (typeof input === "string") return decodePemCertificates(new TextEncoder().encode(input), "TCB signing chain");
  if (input instanceof Uint8Array) return decodePemCertificates(input, "TCB signing chain");
  return input;
}

/** Decoding is pure: with a cache, each distinct document is decoded once. */
export function decodedCollateral<T>(
  cache: VerifiedCache | undefined,
  label: string,
  input: Uint8Array | string,
  decode: (input: Uint8Array | string) => T,
): Promise<T> | T {
  if (cache === undefined) return decode(input);
  return cache.get(
    label,
    [inputBytes(input)],
    new Date(0),
    async () => decode(input),
    () => true,
  );
}

type SignedKind = DcapSignedDocument & { readonly kind: string };

/** A collateral document's signer chain and signature, reused while the chain and the document are current. */
async function collateralSigner(
  cache: VerifiedCache | undefined,
  doc: SignedKind,
  chainDer: readonly Uint8Array[],
  roots: readonly Uint8Array[],
  at: Date,
): Promise<VerifiedCertificateChain> {
  const verified = await maybeCached(
    cache,
    `dcap-collateral:${roots.length}`,
    [doc.signedBytes, doc.signature, ...roots, ...chainDer],
    at,
    async () => ({ chain: await verifyCollateralSignature(doc, chainDer, roots, at), doc }),
    (v, t) =>
      chainValidAt(v.chain, t) && v.doc.issueDate.getTime() <= t.getTime() && t.getTime() <= v.doc.nextUpdate.getTime(),
  );
  return verified.chain;
}

/** Inputs of {@link verifyDcapCollateral}. */
export interface DcapCollateralInputs {
  readonly tcbInfo: SignedKind & { readonly fmspc: string; readonly pceId: string };
  readonly qeIdentity: SignedKind;
  readonly tcbSigningChain: string | Uint8Array | readonly Uint8Array[];
  readonly rootCrl?: Uint8Array | string | undefined;
  /** What the PCK certificate says about the platform. */
  readonly pck: PckExtensions;
  readonly roots: readonly Uint8Array[];
  readonly at: Date;
}

/**
 * Step 6's document checks: TCB info and QE identity signed by the TCB
 * signing certificate and current at `at`, the signer not on the root CA
 * CRL (when given), the TCB info for the PCK's platform. Throws
 * `VerificationError` (collateral-*, cert-*, crl-*, cert-revoked).
 */
export async function verifyDcapCollateral(
  inputs: DcapCollateralInputs,
  cache: VerifiedCache | undefined,
): Promise<void> {
  const { roots, at } = inputs;
  const input = inputs.tcbSigningChain;
  const chainDer =
    typeof input === "string" || input instanceof Uint8Array
      ? await decodedCollateral(cache, "dcap-signing-chain", input, signingChainDer)
      : input;
  const signer = await collateralSigner(cache, inputs.tcbInfo, chainDer, roots, at);
  await collateralSigner(cache, inputs.qeIdentity, chainDer, roots, at);
  if (inputs.rootCrl !== undefined) {
    const crl = await crlOf(cache, inputs.rootCrl, signer.anchor, at);
    crl.assertNotRevoked(signer.leaf, "the TCB signing certificate");
    for (let i = 1; i < signer.path.length - 1; i++) crl.assertNotRevoked(signer.path[i]!, "a TCB signing CA");
  }
  if (inputs.tcbInfo.fmspc !== inputs.pck.fmspc || inputs.tcbInfo.pceId !== inputs.pck.pceId) {
    throw new VerificationError("collateral-mismatch", "the TCB info is for another platform (FMSPC or PCE ID)");
  }
}

/** `value & mask == expected`, byte by byte, all three the same length. */
export function maskedEqual(value: Uint8Array, mask: Uint8Array, expected: Uint8Array): boolean {
  if (value.length !== mask.length || mask.length !== expected.length) return false;
  return value.every((b, i) => (b & mask[i]!) === expected[i]);
}

/** The first level at or below `svn` (levels are best first), or undefined below every level. */
export function isvSvnStatus(levels: readonly IsvSvnTcbLevel[], svn: number): IsvSvnTcbLevel | undefined {
  return levels.find((l) => l.isvSvn <= svn);
}

/**
 * Step 6's QE check: the QE report matches the identity (MRSIGNER,
 * ISVPRODID, masked MISCSELECT and ATTRIBUTES) and its ISVSVN selects a
 * level. Throws `<tee>-qe-identity-mismatch` or `<tee>-qe-tcb-not-supported`.
 */
export function checkQeIdentity(tee: DcapTee, identity: DcapQeIdentity, report: SgxReportBody): IsvSvnTcbLevel {
  const ok =
    bytesEqual(report.mrSigner, identity.mrSigner) &&
    report.isvProdId === identity.isvProdId &&
    (report.miscSelect & identity.miscSelectMask) >>> 0 === (identity.miscSelect & identity.miscSelectMask) >>> 0 &&
    maskedEqual(report.attributes, identity.attributesMask, identity.attributes);
  if (!ok)
    throw new VerificationError(`${tee}-qe-identity-mismatch`, "the QE is not the one Intel's QE identity names");
  const level = isvSvnStatus(identity.tcbLevels, report.isvSvn);
  if (!level) throw new VerificationError(`${tee}-qe-tcb-not-supported`, "the QE's ISVSVN is below every QE TCB level");
  return level;
}

/**
 * The first TCB level whose 16 SGX TCB components and PCE SVN the PCK
 * certificate meets (Intel's TCB level matching; levels are best first).
 * `extra` adds a TEE-specific condition (TDX: the TEE_TCB_SVN components).
 */
export function matchSgxComponents<L extends { readonly sgxTcbComponents: readonly number[]; readonly pceSvn: number }>(
  levels: readonly L[],
  pck: PckExtensions,
  extra: (level: L) => boolean = () => true,
): L | undefined {
  return levels.find(
    (l) => l.sgxTcbComponents.every((svn, i) => pck.sgxTcbComponents[i]! >= svn) && pck.pceSvn >= l.pceSvn && extra(l),
  );
}
