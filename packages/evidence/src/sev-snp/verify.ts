/**
 * Verification of AMD SEV-SNP attestation reports, offline, at a pinned time:
 *
 * 1. the VCEK (or VLEK) certificate chains VCEK → ASK (or ASVK) → ARK with
 *    RSASSA-PSS SHA-384 signatures (AMD publication 57230 §2), ending at the
 *    embedded AMD root of the report's product (or an injected one);
 * 2. the certificate's product (productName, 57230 Table 9) agrees with the
 *    caller's and, for version 3+ reports, with the product the report's
 *    CPUID family and model name (the report's product is used when the
 *    certificate names none); the intermediate is AMD's own for the key's
 *    kind: the embedded ASK for a VCEK, the embedded ASVK for a VLEK;
 * 3. SIGNING_KEY says the key that the certificate certifies (VCEK = 0,
 *    VLEK = 1; 56860 Table 23), and the report is signed at all;
 * 4. the ECDSA P-384 SHA-384 signature over bytes 0x000–0x29F verifies with
 *    the certified key (56860 §7.3, §10.2);
 * 5. the TCB the key was derived for (blSPL, teeSPL, snpSPL, ucodeSPL, and
 *    fmcSPL on Turin) equals the report's REPORTED_TCB, component by
 *    component: a VCEK is derived per TCB, so a mismatch means the wrong
 *    certificate (57230 §3.1);
 * 6. for a VCEK, hwID equals CHIP_ID, unless the host masked CHIP_ID.
 *
 * Only then is a {@link VerifiedSnpReport} made; policy (measurement, debug,
 * minimum TCB, report data) is decided elsewhere (@veritee/policy).
 *
 * The certificate part can be verified once and reused: pass a
 * {@link VerifiedSnpEndorsement} as `vcek`, and only the validity windows
 * are re-checked at the new time (a CRL given then was checked when the
 * endorsement was made, at its time).
 */
import { bytesEqual, concatBytes, importPublicSpki, type PublicKeyHandle, verifySignature } from "@veritee/core";
import { DEFAULT_VERIFIED_CACHE_SIZE, inputBytes, VerifiedCache } from "../collateral/verified-cache.js";
import { VerificationError } from "../errors.js";
import { type DecodedCertificate, decodeCertificate } from "../x509/certificate.js";
import { type VerifiedCertificateChain, verifyCertificateChain } from "../x509/chain.js";
import { decodeCrl, verifyCrl } from "../x509/crl.js";
import { decodeSnpReport, type SnpReport } from "./decode.js";
import { type SnpProduct, snpProductFromCpuid, snpProductFromName, snpTcbLayout } from "./product.js";
import { AMD_SNP_ROOTS, type SnpTrustAnchors } from "./roots.js";
import { decodeSnpEndorsementExtensions, type SnpEndorsementExtensions } from "./vcek.js";

/** Trust anchors by product; see {@link AMD_SNP_ROOTS}. */
export type SnpRoots = Readonly<Partial<Record<SnpProduct, SnpTrustAnchors>>>;

/** Inputs of {@link verifySnpEndorsement}. */
export interface VerifySnpEndorsementOptions {
  /** The VCEK or VLEK certificate (DER). */
  readonly vcek: Uint8Array;
  /**
   * The intermediate and root as the host supplied them (DER). `ask` is the
   * ASK for a VCEK, the ASVK for a VLEK; when absent, the one in `roots` is
   * used. `ark`, when given, must equal the trusted root: it is never
   * trusted for being supplied.
   */
  readonly chain?: { readonly ask?: Uint8Array; readonly ark?: Uint8Array };
  /** The expected product; inferred from the certificate's productName when absent. */
  readonly product?: SnpProduct;
  /** The time to validate at. Required: never an implicit "now". */
  readonly at: Date;
  /**
   * AMD's CRL for the product (DER or PEM, from KDS `/vcek/v1/<product>/crl`):
   * signed by the ARK, it lists revoked ASKs and ASVKs. When given, it must
   * verify and be current at `at`, and the chain's ASK/ASVK must not be on
   * it. Not given: revocation is not checked.
   */
  readonly crl?: Uint8Array | string;
  /**
   * Trust anchors to use instead of the embedded {@link AMD_SNP_ROOTS}
   * (a test root in tests).
   */
  readonly roots?: SnpRoots;
}

/** Inputs of {@link verifySnpReport}. */
export interface VerifySnpReportOptions extends Omit<VerifySnpEndorsementOptions, "vcek"> {
  /** The ATTESTATION_REPORT (1184 bytes). */
  readonly report: Uint8Array;
  /** The VCEK or VLEK certificate (DER), or one already verified by {@link verifySnpEndorsement}. */
  readonly vcek: Uint8Array | VerifiedSnpEndorsement;
}

const ENDORSEMENT: unique symbol = Symbol("VerifiedSnpEndorsement");
const REPORT: unique symbol = Symbol("VerifiedSnpReport");

/** A VCEK or VLEK certificate proven to chain to AMD's root for `product`. Only the verifier constructs it. */
export class VerifiedSnpEndorsement {
  /** "vcek" or "vlek". */
  readonly kind: "vcek" | "vlek";
  readonly product: SnpProduct;
  /** The chain, VCEK/VLEK first and ARK last. */
  readonly chain: VerifiedCertificateChain;
  /** AMD's extensions of the leaf (TCB, hwID or CSP id, product name). */
  readonly extensions: SnpEndorsementExtensions;
  /** The certified P-384 key, imported once. */
  readonly key: PublicKeyHandle;

  /** @internal Use {@link verifySnpEndorsement}. */
  constructor(
    token: typeof ENDORSEMENT,
    chain: VerifiedCertificateChain,
    product: SnpProduct,
    extensions: SnpEndorsementExtensions,
    key: PublicKeyHandle,
  ) {
    if (token !== ENDORSEMENT) throw new TypeError("VerifiedSnpEndorsement is created by verifySnpEndorsement only");
    this.kind = extensions.kind;
    this.product = product;
    this.chain = chain;
    this.extensions = extensions;
    this.key = key;
    Object.freeze(this);
  }

  /** True only for an endorsement made by {@link verifySnpEndorsement} (not a look-alike object). */
  static is(value: unknown): value is VerifiedSnpEndorsement {
    return value instanceof VerifiedSnpEndorsement;
  }
}

/** An SEV-SNP report whose signature, certificate chain and TCB binding all verified. Only the verifier constructs it. */
export class VerifiedSnpReport {
  /** The decoded report (now authenticated). */
  readonly report: SnpReport;
  readonly product: SnpProduct;
  /** Which key signed it. */
  readonly signer: "vcek" | "vlek";
  readonly endorsement: VerifiedSnpEndorsement;
  /** The time it was verified at. */
  readonly verifiedAt: Date;

  /** @internal Use {@link verifySnpReport}. */
  constructor(token: typeof REPORT, report: SnpReport, endorsement: VerifiedSnpEndorsement, at: Date) {
    if (token !== REPORT) throw new TypeError("VerifiedSnpReport is created by verifySnpReport only");
    this.report = report;
    this.product = endorsement.product;
    this.signer = endorsement.kind;
    this.endorsement = endorsement;
    this.verifiedAt = new Date(at.getTime());
    Object.freeze(this);
  }

  /** True only for a report made by {@link verifySnpReport}. */
  static is(value: unknown): value is VerifiedSnpReport {
    return value instanceof VerifiedSnpReport;
  }
}

function checkAt(at: Date): void {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new TypeError("`at` must be a valid Date");
}

function resolveProduct(requested: SnpProduct | undefined, extensions: SnpEndorsementExtensions): SnpProduct {
  const named = extensions.productName === undefined ? undefined : snpProductFromName(extensions.productName);
  if (requested !== undefined && extensions.productName !== undefined && named !== requested) {
    throw new VerificationError(
      "snp-product-mismatch",
      `the certificate is for ${extensions.productName}, the report or caller names ${requested}`,
    );
  }
  const product = requested ?? named;
  if (product === undefined) {
    throw new VerificationError("snp-product-unknown", "the certificate names no known product and none was given");
  }
  return product;
}

/** AMD signs every certificate of the chain with RSASSA-PSS SHA-384 (57230 §2.2). */
function checkAmdSignatureAlgorithm(cert: DecodedCertificate, position: string): void {
  const scheme = cert.signatureAlgorithm.scheme;
  if (scheme?.kind !== "rsa-pss" || scheme.hash !== "sha384") {
    throw new VerificationError("snp-certificate-invalid", `${position} is not signed with RSASSA-PSS SHA-384`);
  }
}

/**
 * Verify a VCEK or VLEK certificate up to AMD's root for its product, at
 * the pinned time `at`. The result can be reused across reports of the same
 * chip and TCB.
 *
 * @throws MalformedError for a certificate that does not decode.
 * @throws VerificationError: `cert-*` codes from path validation
 *   (`cert-untrusted-root` also when no anchors exist for the product);
 *   `snp-chain-mismatch` for a supplied ARK that is not the trusted one, a
 *   path not exactly leaf → ASK → ARK, or an intermediate that is not the
 *   trusted ASK (VCEK) or ASVK (VLEK);
 *   `snp-product-mismatch`, `snp-product-unknown`; `snp-certificate-invalid`
 *   for a leaf without a P-384 key, RSASSA-PSS SHA-384 signatures or a TCB
 *   extension; with `crl`, the `crl-*` codes and `cert-revoked`.
 * @example
 * const endorsement = await verifySnpEndorsement({ vcek: vcekDer, at: new Date() });
 * endorsement.product; // "Milan"
 */
export async function verifySnpEndorsement(options: VerifySnpEndorsementOptions): Promise<VerifiedSnpEndorsement> {
  checkAt(options.at);
  const leaf = decodeCertificate(options.vcek);
  const extensions = decodeSnpEndorsementExtensions(leaf);
  const product = resolveProduct(options.product, extensions);
  const anchors = (options.roots ?? AMD_SNP_ROOTS)[product];
  if (anchors === undefined) {
    throw new VerificationError("cert-untrusted-root", `no AMD root is configured for ${product}`);
  }
  if (options.chain?.ark !== undefined && !bytesEqual(options.chain.ark, anchors.ark)) {
    throw new VerificationError("snp-chain-mismatch", "the supplied ARK is not the trusted AMD root");
  }
  const intermediate = options.chain?.ask ?? (extensions.kind === "vcek" ? anchors.ask : anchors.asvk);
  if (intermediate === undefined) {
    throw new VerificationError(
      "cert-untrusted-root",
      `no ${extensions.kind === "vcek" ? "ASK" : "ASVK"} for ${product}`,
    );
  }
  const chain = await verifyCertificateChain({
    leaf: options.vcek,
    intermediates: [intermediate],
    roots: [anchors.ark],
    at: options.at,
    maxDepth: 3,
  });
  // 57230 §2: the ARK signs the ASK (or ASVK), which signs the VCEK (or VLEK); nothing shorter.
  if (chain.path.length !== 3) {
    throw new VerificationError("snp-chain-mismatch", "the chain is not VCEK → ASK → ARK");
  }
  // A VCEK is issued by the ASK and a VLEK by the ASVK, never the other way
  // round (57230 §2): a host-supplied intermediate that chains to the ARK
  // must still be the trusted one for the key's kind.
  const trusted = extensions.kind === "vcek" ? anchors.ask : anchors.asvk;
  if (trusted !== undefined && !bytesEqual(chain.path[1]!.der, trusted)) {
    throw new VerificationError(
      "snp-chain-mismatch",
      `the ${extensions.kind.toUpperCase()} is not issued by AMD's ${extensions.kind === "vcek" ? "ASK" : "ASVK"} for ${product}`,
    );
  }
  if (options.crl !== undefined) {
    // 57230 §4: the ARK signs the CRL of AMD's signing keys (ASK, ASVK).
    const crl = await verifyCrl({ crl: options.crl, issuer: chain.path[2]!, at: options.at });
    crl.assertNotRevoked(chain.path[1]!, extensions.kind === "vcek" ? "the ASK" : "the ASVK");
  }
  checkAmdSignatureAlgorithm(chain.path[0]!, "the VCEK");
  checkAmdSignatureAlgorithm(chain.path[1]!, "the ASK");
  const key = leaf.publicKey;
  if (key.kind !== "ec" || key.curve !== "P-384") {
    throw new VerificationError("snp-certificate-invalid", "the VCEK key is not ECDSA P-384");
  }
  const tcb = extensions.tcb;
  const required: [string, number | undefined][] = [
    ["blSPL", tcb.bootloader],
    ["teeSPL", tcb.tee],
    ["snpSPL", tcb.snp],
    ["ucodeSPL", tcb.microcode],
  ];
  if (product === "Turin") required.push(["fmcSPL", tcb.fmc]);
  for (const [name, value] of required) {
    if (value === undefined) throw new VerificationError("snp-certificate-invalid", `the VCEK lacks ${name}`);
  }
  if (extensions.hwId !== undefined && product !== "Turin" && extensions.hwId.length !== 64) {
    throw new VerificationError("snp-certificate-invalid", `a ${product} hwID is 64 bytes`);
  }
  return new VerifiedSnpEndorsement(ENDORSEMENT, chain, product, extensions, importPublicSpki(leaf.spki));
}

/** A reused endorsement must still be within every certificate's validity window (RFC 5280 §4.1.2.5). */
function recheckValidity(endorsement: VerifiedSnpEndorsement, at: Date): void {
  endorsement.chain.path.forEach((cert, i) => {
    const position = i === 0 ? "the VCEK" : i === 1 ? "the ASK" : "the ARK";
    if (at.getTime() < cert.notBefore.getTime()) {
      throw new VerificationError("cert-not-yet-valid", `${position} is not valid before its notBefore`);
    }
    if (at.getTime() > cert.notAfter.getTime()) {
      throw new VerificationError("cert-expired", `${position} expired before the validation time`);
    }
  });
}

const TCB_COMPONENTS = ["fmc", "bootloader", "tee", "snp", "microcode"] as const;

/**
 * The product a report is for: the caller's, which must agree with the one
 * the report's CPUID names (version 3+, {@link snpProductFromCpuid}), or
 * else the report's. Undefined when neither says (a version 2 report, an
 * unlisted model): the certificate's productName decides then.
 */
function productOf(report: SnpReport, requested: SnpProduct | undefined): SnpProduct | undefined {
  const fromCpuid = report.cpuid === undefined ? undefined : snpProductFromCpuid(report.cpuid);
  if (requested !== undefined && fromCpuid !== undefined && requested !== fromCpuid) {
    throw new VerificationError("snp-product-mismatch", `the report's CPUID names ${fromCpuid}, not ${requested}`);
  }
  return requested ?? fromCpuid;
}

/**
 * Verify an SEV-SNP attestation report and its VCEK/VLEK at the pinned time
 * `at` (the steps are listed in this module's comment).
 *
 * @throws MalformedError for a report or certificate that does not decode.
 * @throws VerificationError: everything {@link verifySnpEndorsement} throws;
 *   `snp-unsigned` (SIGNING_KEY "none"), `snp-signing-key-mismatch`,
 *   `snp-product-mismatch` (CPUID family/model), `signature-invalid`,
 *   `snp-tcb-mismatch` (naming the component), `snp-chip-id-mismatch`.
 * @example
 * const verified = await verifySnpReport({ report, vcek: vcekDer, at: new Date("2023-06-01T00:00:00Z") });
 * toHex(verified.report.measurement);
 */
export async function verifySnpReport(options: VerifySnpReportOptions): Promise<VerifiedSnpReport> {
  checkAt(options.at);
  const report = decodeSnpReport(options.report);
  const product = productOf(report, options.product);
  let endorsement: VerifiedSnpEndorsement;
  if (VerifiedSnpEndorsement.is(options.vcek)) {
    endorsement = options.vcek;
    if (product !== undefined && product !== endorsement.product) {
      throw new VerificationError("snp-product-mismatch", `the endorsement is not for ${product}`);
    }
    recheckValidity(endorsement, options.at);
  } else {
    endorsement = await verifySnpEndorsement({ ...options, vcek: options.vcek, ...(product ? { product } : {}) });
  }

  if (report.signingKey === "none") throw new VerificationError("snp-unsigned", "the report says it is not signed");
  if (report.signingKey !== endorsement.kind) {
    throw new VerificationError(
      "snp-signing-key-mismatch",
      `the report is signed by a ${report.signingKey.toUpperCase()}, the certificate is a ${endorsement.kind.toUpperCase()}`,
    );
  }
  // Version 3+ reports carry the CPU family, which fixes the TCB layout; it must be the product's.
  if (report.tcbLayout !== snpTcbLayout(endorsement.product)) {
    throw new VerificationError("snp-product-mismatch", `the report's CPU family is not ${endorsement.product}'s`);
  }

  const signature = concatBytes(report.signatureR, report.signatureS);
  const ok = await verifySignature({ kind: "ecdsa", hash: "sha384" }, endorsement.key, report.signedBytes, signature);
  if (!ok) throw new VerificationError("signature-invalid", "the report signature does not verify with the VCEK");

  const certified = endorsement.extensions.tcb;
  for (const component of TCB_COMPONENTS) {
    if (component === "fmc" && endorsement.product !== "Turin") continue;
    if (certified[component] !== report.reportedTcb[component]) {
      throw new VerificationError(
        "snp-tcb-mismatch",
        `REPORTED_TCB.${component} differs from the certificate's ${component} SPL`,
      );
    }
  }

  const hwId = endorsement.extensions.hwId;
  if (endorsement.kind === "vcek" && !report.maskChipKey && hwId !== undefined) {
    // Turin's KDS hwID is the first 8 bytes of CHIP_ID; Milan and Genoa use all 64.
    const chip = hwId.length === 8 ? report.chipId.subarray(0, 8) : report.chipId;
    if (!bytesEqual(hwId, chip)) throw new VerificationError("snp-chip-id-mismatch", "CHIP_ID differs from the hwID");
  }
  return new VerifiedSnpReport(REPORT, report, endorsement, options.at);
}

/** Options of {@link createSnpVerifier}. */
export interface SnpVerifierOptions {
  /** Trust anchors instead of the embedded {@link AMD_SNP_ROOTS}. */
  readonly roots?: SnpRoots;
  /** The most verified endorsements kept; default 64. */
  readonly cacheSize?: number;
}

/** An SEV-SNP verifier with a cache of verified endorsements: see {@link createSnpVerifier}. */
export interface SnpVerifier {
  /** Like {@link verifySnpReport} with certificate bytes (and the verifier's roots). Same checks, same errors. */
  verify(
    options: Omit<VerifySnpReportOptions, "roots" | "vcek"> & { readonly vcek: Uint8Array },
  ): Promise<VerifiedSnpReport>;
  /** Endorsements cached now. */
  readonly size: number;
  /** Forget every cached endorsement. */
  clear(): void;
}

/**
 * An SEV-SNP verifier for many reports: the VCEK → ASK → ARK chain (two
 * RSA-4096 PSS verifications) and AMD's CRL are verified once per distinct
 * (product, VCEK, ASK, ARK, CRL) bytes, and reused while every certificate
 * and the CRL are current at the new `at` (a bounded LRU keyed by
 * SHA-256). Every call still checks the report: its signature with the
 * VCEK key, SIGNING_KEY, CPU family, TCB and CHIP_ID against the VCEK.
 *
 * @example
 * const snp = createSnpVerifier();
 * const verified = await snp.verify({ report, vcek, chain: { ask, ark }, at: new Date() });
 */
export function createSnpVerifier(options: SnpVerifierOptions = {}): SnpVerifier {
  const roots = options.roots;
  const cache = new VerifiedCache(options.cacheSize ?? DEFAULT_VERIFIED_CACHE_SIZE);
  const none = new Uint8Array(0);
  return Object.freeze({
    async verify(input: Omit<VerifySnpReportOptions, "roots" | "vcek"> & { readonly vcek: Uint8Array }) {
      checkAt(input.at);
      // The report first, as verifySnpReport does: a malformed report fails the same way, cached or not.
      const product = productOf(decodeSnpReport(input.report), input.product);
      const { vcek, chain, crl, at } = input;
      // Presence is part of the key: an absent ASK and an empty one are different inputs.
      const label = `snp-endorsement:${product ?? ""}:${chain?.ask ? 1 : 0}${chain?.ark ? 1 : 0}${crl ? 1 : 0}`;
      const parts = [vcek, chain?.ask ?? none, chain?.ark ?? none, crl === undefined ? none : inputBytes(crl)];
      const endorsement = await cache.get(
        label,
        parts,
        at,
        async () => ({
          endorsement: await verifySnpEndorsement({
            ...input,
            vcek,
            ...(product ? { product } : {}),
            ...(roots ? { roots } : {}),
          }),
          crl: crl === undefined ? undefined : decodeCrl(crl),
        }),
        (v, t) =>
          v.endorsement.chain.path.every(
            (c) => c.notBefore.getTime() <= t.getTime() && t.getTime() <= c.notAfter.getTime(),
          ) &&
          (v.crl === undefined ||
            (v.crl.thisUpdate.getTime() <= t.getTime() &&
              v.crl.nextUpdate !== undefined &&
              t.getTime() <= v.crl.nextUpdate.getTime())),
      );
      return verifySnpReport({ ...input, vcek: endorsement.endorsement });
    },
    get size() {
      return cache.size;
    },
    clear: () => cache.clear(),
  });
}
