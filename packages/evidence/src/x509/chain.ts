/**
 * X.509 certificate path validation for TPM EK and AK certificates, after
 * RFC 5280 §6.1 with the clock and the trust anchors injected. Verification
 * only: the result says which chain was proven, and policy decides whether
 * that chain is good enough.
 *
 * Critical extensions: RFC 5280 §4.2 requires rejecting a certificate with a
 * critical extension the verifier does not process. This verifier processes
 * basicConstraints, keyUsage, extKeyUsage (leaf only, against `requiredEku`),
 * subjectAltName (decoded; the TCG EK Credential Profile 2.5 §3.2.9 makes it
 * critical because EK certificates often have an empty subject, as Google's AK
 * certificates and swtpm's EK certificates do), and the key identifiers.
 * Everything else that is marked critical (certificatePolicies, nameConstraints,
 * policyConstraints, ...) is refused, since it is not enforced here; the real
 * TPM certificates in the test vectors mark only basicConstraints, keyUsage
 * and subjectAltName critical.
 */
import { bytesEqual, importPublicJwk, MalformedError, type PublicKeyHandle, verifySignature } from "@veritee/core";
import { VerificationError } from "../errors.js";
import { type DecodedCertificate, decodeCertificate, EXTENSION_OID, KEY_USAGE } from "./certificate.js";
import { publicKeyToJwk } from "./public-key.js";

/** Inputs to {@link verifyCertificateChain}. */
export interface CertificateChainOptions {
  /** The end-entity certificate (DER). */
  readonly leaf: Uint8Array;
  /** Candidate intermediate CA certificates (DER), in any order; unused ones are ignored. */
  readonly intermediates?: readonly Uint8Array[];
  /** Trust anchors (DER). A path must end at one of these. */
  readonly roots: readonly Uint8Array[];
  /** The time to validate at. Required: evidence is verified at a pinned time, never an implicit "now". */
  readonly at: Date;
  /** An extended key usage OID the leaf must list, e.g. {@link TCG_KP_EK_CERTIFICATE}. */
  readonly requiredEku?: string;
  /** The most certificates a path may hold, leaf and anchor included. Default 6. */
  readonly maxDepth?: number;
  /**
   * Accept SHA-1 certificate signatures. Off by default (SHA-1 is broken for
   * signatures); some EK certificates from before 2016 need it.
   */
  readonly allowSha1?: boolean;
}

const CONSTRUCT: unique symbol = Symbol("VerifiedCertificateChain");

/** Extensions whose criticality this verifier honours (see the module comment). */
const PROCESSED_EXTENSIONS: ReadonlySet<string> = new Set([
  EXTENSION_OID.basicConstraints,
  EXTENSION_OID.keyUsage,
  EXTENSION_OID.extKeyUsage,
  EXTENSION_OID.subjectAltName,
  EXTENSION_OID.subjectKeyIdentifier,
  EXTENSION_OID.authorityKeyIdentifier,
]);

/** Smallest RSA key accepted for a certificate signature (NIST SP 800-131A). */
const MIN_RSA_BITS = 2048;
/** Bounds on the work one call may do, whatever the inputs. */
const MAX_CANDIDATES = 64;
const MAX_EDGE_CHECKS = 256;
const DEFAULT_MAX_DEPTH = 6;

/**
 * A certificate chain that {@link verifyCertificateChain} proved: every
 * signature verified, every certificate valid at `verifiedAt`, every issuer a
 * CA allowed to sign certificates, ending at one of the given trust anchors.
 * Only the verifier constructs it.
 */
export class VerifiedCertificateChain {
  /** The end-entity certificate. */
  readonly leaf: DecodedCertificate;
  /** The path, leaf first and trust anchor last. */
  readonly path: readonly DecodedCertificate[];
  /** The trust anchor the path ends at. */
  readonly anchor: DecodedCertificate;
  /** The time the chain was validated at. */
  readonly verifiedAt: Date;

  /** @internal Use {@link verifyCertificateChain}. */
  constructor(token: typeof CONSTRUCT, path: readonly DecodedCertificate[], at: Date) {
    if (token !== CONSTRUCT) throw new TypeError("VerifiedCertificateChain is created by verifyCertificateChain only");
    this.path = Object.freeze([...path]);
    this.leaf = path[0]!;
    this.anchor = path[path.length - 1]!;
    this.verifiedAt = new Date(at.getTime());
    Object.freeze(this);
  }
}

/** A failed path attempt: the error, how far the path got, and whether to stop searching. */
class PathFailure {
  constructor(
    readonly error: VerificationError,
    readonly depth: number,
    readonly fatal = false,
  ) {}
}

function checkValidity(cert: DecodedCertificate, at: Date, position: string): void {
  // RFC 5280 §4.1.2.5: valid from notBefore through notAfter, both inclusive.
  if (at.getTime() < cert.notBefore.getTime()) {
    throw new VerificationError("cert-not-yet-valid", `${position} is not valid before its notBefore`);
  }
  if (at.getTime() > cert.notAfter.getTime()) {
    throw new VerificationError("cert-expired", `${position} expired before the validation time`);
  }
}

function checkCriticalExtensions(cert: DecodedCertificate, position: string): void {
  for (const ext of cert.extensions) {
    if (ext.critical && !PROCESSED_EXTENSIONS.has(ext.oid)) {
      throw new VerificationError(
        "cert-unknown-critical-extension",
        `${position} has critical extension ${ext.oid}, which is not processed`,
      );
    }
  }
}

async function checkSignature(
  child: DecodedCertificate,
  issuer: DecodedCertificate,
  allowSha1: boolean,
  position: string,
): Promise<void> {
  const scheme = child.signatureAlgorithm.scheme;
  if (!scheme) {
    throw new VerificationError(
      "unsupported-algorithm",
      `${position} uses signature algorithm ${child.signatureAlgorithm.oid}`,
    );
  }
  if (scheme.hash === "sha1" && !allowSha1) {
    throw new VerificationError("unsupported-algorithm", `${position} is signed with SHA-1`);
  }
  const key = issuer.publicKey;
  if (key.kind === "other") throw new VerificationError("unsupported-algorithm", `issuer key of ${position}`);
  const wantsRsa = scheme.kind === "rsassa-pkcs1" || scheme.kind === "rsa-pss";
  if (wantsRsa !== (key.kind === "rsa")) {
    throw new VerificationError(
      "cert-signature-invalid",
      `${position}: signature algorithm does not fit the issuer key`,
    );
  }
  if (key.kind === "rsa" && key.bits < MIN_RSA_BITS) {
    throw new VerificationError(
      "unsupported-algorithm",
      `issuer of ${position} has an RSA key under ${MIN_RSA_BITS} bits`,
    );
  }
  let handle: PublicKeyHandle;
  try {
    handle = importPublicJwk(publicKeyToJwk(key));
  } catch (cause) {
    // A key the backend refuses (e.g. a point off the curve) cannot have signed anything.
    throw new VerificationError("cert-signature-invalid", `issuer key of ${position} is unusable`, { cause });
  }
  // verifySignature resolves false (never rejects) for a signature of the wrong shape.
  if (!(await verifySignature(scheme, handle, child.tbs, child.signature)))
    throw new VerificationError("cert-signature-invalid", `${position} has a bad signature`);
}

/** RFC 5280 §6.1.4 (k), (l), (n): an issuer must be a CA allowed to sign certificates, within its path length. */
function checkIssuer(issuer: DecodedCertificate, below: readonly DecodedCertificate[], position: string): void {
  if (!issuer.basicConstraints?.ca) {
    throw new VerificationError("cert-not-ca", `${position} issues certificates but is not a CA`);
  }
  if (issuer.keyUsage !== undefined && (issuer.keyUsage & KEY_USAGE.keyCertSign) === 0) {
    throw new VerificationError("cert-key-usage", `${position} lacks keyCertSign`);
  }
  const pathLen = issuer.basicConstraints.pathLen;
  if (pathLen !== undefined) {
    // Intermediates between this issuer and the leaf; self-issued ones do not count (RFC 5280 §4.2.1.9).
    const intermediates = below.slice(1).filter((c) => !bytesEqual(c.subject.der, c.issuer.der)).length;
    if (intermediates > pathLen) {
      throw new VerificationError("cert-path-too-long", `${position} allows ${pathLen} intermediates below it`);
    }
  }
}

function describe(depth: number): string {
  return depth === 0 ? "the leaf certificate" : `certificate ${depth} of the path`;
}

/**
 * Build and verify a certificate path from `leaf` to one of `roots` at the
 * pinned time `at`. Resolves to the proven chain; rejects with `VerificationError`
 * (cert-untrusted-root, cert-signature-invalid, cert-expired,
 * cert-not-yet-valid, cert-not-ca, cert-key-usage, cert-path-too-long,
 * cert-eku-missing, cert-unknown-critical-extension, unsupported-algorithm)
 * or `MalformedError` for a certificate that does not decode. Asynchronous
 * because signature verification is (WebCrypto, core's browser backend).
 *
 * The leaf's own checks (critical extensions, validity, `requiredEku`) run
 * first. Issuers are then found by name (DER equality of issuer and subject;
 * no RFC 5280 §7.1 string normalisation) and, when
 * both certificates carry them, authority/subject key identifiers. Trust
 * anchors are checked like any other issuer (validity, CA, keyCertSign), which
 * is stricter than RFC 5280 §6.1 requires. When no path verifies, the error
 * reported is the one from the attempt that got furthest.
 *
 * @example
 * const chain = await verifyCertificateChain({
 *   leaf: akCertDer, intermediates: [intermediateDer], roots: [rootDer],
 *   at: new Date("2022-01-01T00:00:00Z"), requiredEku: TCG_KP_EK_CERTIFICATE,
 * });
 * chain.leaf.publicKey; // the certified key
 */
export async function verifyCertificateChain(options: CertificateChainOptions): Promise<VerifiedCertificateChain> {
  const at = options.at;
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new TypeError("`at` must be a valid Date");
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 2) throw new RangeError("maxDepth must be an integer of at least 2");
  const intermediatesDer = options.intermediates ?? [];
  if (options.roots.length + intermediatesDer.length > MAX_CANDIDATES) {
    throw new MalformedError("too-large", "certificate chain", `more than ${MAX_CANDIDATES} candidate certificates`);
  }
  const leaf = decodeCertificate(options.leaf);
  const candidates = [
    ...options.roots.map((der) => ({ cert: decodeCertificate(der), anchor: true })),
    ...intermediatesDer.map((der) => ({ cert: decodeCertificate(der), anchor: false })),
  ];
  const allowSha1 = options.allowSha1 ?? false;

  checkCriticalExtensions(leaf, describe(0));
  checkValidity(leaf, at, describe(0));
  if (options.requiredEku !== undefined && !leaf.extendedKeyUsage?.includes(options.requiredEku)) {
    // An absent extension means "any purpose" in RFC 5280 §4.2.1.12, but the
    // TCG profiles require the EKU, so absence fails here too.
    throw new VerificationError("cert-eku-missing", "the leaf certificate lacks the required extended key usage");
  }

  let edgeChecks = 0;
  const extend = async (path: readonly DecodedCertificate[]): Promise<readonly DecodedCertificate[]> => {
    const current = path[path.length - 1]!;
    const depth = path.length;
    const issuers = candidates.filter(
      ({ cert }) =>
        bytesEqual(cert.subject.der, current.issuer.der) &&
        // Key identifiers disambiguate re-keyed CAs with the same name (RFC 5280 §4.2.1.1).
        (current.authorityKeyId === undefined ||
          cert.subjectKeyId === undefined ||
          bytesEqual(current.authorityKeyId, cert.subjectKeyId)) &&
        !path.some((p) => bytesEqual(p.der, cert.der)),
    );
    if (issuers.length === 0) {
      throw new PathFailure(
        new VerificationError("cert-untrusted-root", `no trusted issuer for ${describe(depth - 1)}`),
        depth,
      );
    }
    let best: PathFailure | undefined;
    for (const { cert, anchor } of issuers) {
      try {
        if (++edgeChecks > MAX_EDGE_CHECKS) {
          throw new PathFailure(new VerificationError("cert-path-too-long", "path building gave up"), depth, true);
        }
        if (depth + 1 > maxDepth) {
          throw new VerificationError("cert-path-too-long", `path longer than ${maxDepth} certificates`);
        }
        const position = describe(depth);
        await checkSignature(current, cert, allowSha1, describe(depth - 1));
        checkIssuer(cert, path, position);
        checkCriticalExtensions(cert, position);
        checkValidity(cert, at, position);
        const next = [...path, cert];
        return anchor ? next : await extend(next);
      } catch (e) {
        const failure =
          e instanceof PathFailure ? e : e instanceof VerificationError ? new PathFailure(e, depth) : null;
        if (!failure) throw e;
        if (failure.fatal) throw failure;
        if (!best || failure.depth > best.depth) best = failure;
      }
    }
    throw best!;
  };

  try {
    return new VerifiedCertificateChain(CONSTRUCT, await extend([leaf]), at);
  } catch (e) {
    if (e instanceof PathFailure) throw e.error;
    throw e;
  }
}
