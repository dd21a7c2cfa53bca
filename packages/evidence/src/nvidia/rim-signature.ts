/**
 * Verification of NVIDIA's signed reference integrity manifests (RIMs): SWID
 * tags (ISO/IEC 19770-2) carrying an enveloped XML signature (W3C XML-DSig
 * 1.1) whose KeyInfo holds the signer's certificate chain. Only the profile
 * NVIDIA uses is accepted, exactly:
 *
 * 1. one `ds:Signature`, a child of the root element;
 * 2. `SignedInfo`: CanonicalizationMethod c14n 1.1 (or 1.0, identical for
 *    this subset), SignatureMethod ECDSA with SHA-256/384/512 (RFC 6931
 *    §2.3.6), one `Reference` with `URI=""` (the whole document), Transforms
 *    exactly enveloped-signature then c14n 1.1, DigestMethod SHA-256/384/512;
 * 3. the DigestValue equals the digest of the canonical document without the
 *    signature (XML-DSig §3.2.1, Reference Validation);
 * 4. the SignatureValue (r‖s, XML-DSig §6.4.3) verifies over the canonical
 *    SignedInfo with the first KeyInfo certificate's key (Signature Validation);
 * 5. that certificate chains, through the other KeyInfo certificates, to
 *    NVIDIA's RIM root (or the caller's roots) at the pinned time `at`.
 *
 * Anything outside this profile (other transforms, XPath, several references,
 * external URIs) is refused, so no part of the document can escape the
 * signature (the classic XML-signature-wrapping attacks need such freedom).
 * Only then is a {@link VerifiedGpuRim} made, and policy takes only those.
 */
import { base64Decode, bytesEqual, hash, importPublicSpki, MalformedError, verifySignature } from "@veritee/core";
import { VerificationError } from "../errors.js";
import { decodeCertificate } from "../x509/certificate.js";
import { type VerifiedCertificateChain, verifyCertificateChain } from "../x509/chain.js";
import { canonicalizeXml } from "./c14n.js";
import { decodeGpuRim, type GpuRim } from "./rim.js";
import { NVIDIA_RIM_ROOT } from "./roots.js";
import { parseXml, type XmlElement, xmlAttribute } from "./xml.js";

const DS = "http://www.w3.org/2000/09/xmldsig#";
const C14N11 = "http://www.w3.org/2006/12/xml-c14n11";
const C14N10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SIGNATURE_METHODS: Readonly<Record<string, "sha256" | "sha384" | "sha512">> = {
  "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": "sha256",
  "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": "sha384",
  "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": "sha512",
};
const DIGEST_METHODS: Readonly<Record<string, "sha256" | "sha384" | "sha512">> = {
  "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
  "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
  "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
};
const MAX_CHAIN = 8;
const WHAT = "RIM.Signature";

/** Inputs of {@link verifyGpuRim}. */
export interface VerifyGpuRimOptions {
  /** The RIM (SWID tag XML text). */
  readonly xml: string;
  /** The time to validate the signer's chain at (never an implicit "now"). */
  readonly at: Date;
  /** Trust anchors instead of {@link NVIDIA_RIM_ROOT} (DER), e.g. a test root. */
  readonly roots?: readonly Uint8Array[];
}

const TOKEN: unique symbol = Symbol("VerifiedGpuRim");

/** A RIM whose signature {@link verifyGpuRim} verified. Only the verifier constructs it. */
export class VerifiedGpuRim {
  /** The reference values it carries. */
  readonly rim: GpuRim;
  /** The signer's chain, signer first and trust anchor last. */
  readonly signer: VerifiedCertificateChain;
  readonly verifiedAt: Date;

  /** @internal Use {@link verifyGpuRim}. */
  constructor(token: typeof TOKEN, rim: GpuRim, signer: VerifiedCertificateChain, at: Date) {
    if (token !== TOKEN) throw new TypeError("VerifiedGpuRim is created by verifyGpuRim only");
    this.rim = rim;
    this.signer = signer;
    this.verifiedAt = new Date(at.getTime());
    Object.freeze(this);
  }

  /** True for a value {@link verifyGpuRim} made (not a look-alike object). */
  static is(value: unknown): value is VerifiedGpuRim {
    return value instanceof VerifiedGpuRim;
  }
}

function only(parent: XmlElement, local: string, what: string): XmlElement {
  const found = parent.children.filter((c) => c.ns === DS && c.local === local);
  if (found.length !== 1) throw new MalformedError("bad-value", `${what}.${local}`, "not exactly one");
  return found[0]!;
}

function algorithm(el: XmlElement, what: string): string {
  const value = xmlAttribute(el, "", "Algorithm");
  if (value === undefined) throw new MalformedError("bad-value", `${what}.Algorithm`, "missing");
  return value;
}

function base64Text(el: XmlElement, what: string, max: number): Uint8Array {
  return base64Decode(el.text.replace(/[ \t\r\n]/g, ""), what, max);
}

/**
 * Verify a RIM's enveloped XML signature and its signer's chain, then decode
 * its reference values.
 *
 * @throws MalformedError for XML, a signature profile or a RIM outside the
 *   supported form; VerificationError `nvidia-rim-digest-mismatch` (the signed
 *   content was changed), `nvidia-rim-signature-invalid`, or a certificate code.
 * @example
 * const verified = await verifyGpuRim({ xml: readFileSync(file, "utf8"), at: new Date() });
 * verified.rim.version; // "96.00.74.00.01"
 */
export async function verifyGpuRim(options: VerifyGpuRimOptions): Promise<VerifiedGpuRim> {
  const root = parseXml(options.xml);
  const signatures = root.children.filter((c) => c.ns === DS && c.local === "Signature");
  if (signatures.length !== 1) throw new MalformedError("bad-value", WHAT, "not exactly one signature on the root");
  const signature = signatures[0]!;
  const signedInfo = only(signature, "SignedInfo", WHAT);
  const c14n = algorithm(only(signedInfo, "CanonicalizationMethod", `${WHAT}.SignedInfo`), `${WHAT}.SignedInfo`);
  if (c14n !== C14N11 && c14n !== C14N10) {
    throw new MalformedError("unsupported", `${WHAT}.CanonicalizationMethod`, "not canonical XML (inclusive)");
  }
  const signatureHash = SIGNATURE_METHODS[algorithm(only(signedInfo, "SignatureMethod", `${WHAT}.SignedInfo`), WHAT)];
  if (signatureHash === undefined) throw new MalformedError("unsupported", `${WHAT}.SignatureMethod`, "not ECDSA");
  const reference = only(signedInfo, "Reference", `${WHAT}.SignedInfo`);
  if (xmlAttribute(reference, "", "URI") !== "") {
    throw new MalformedError("unsupported", `${WHAT}.Reference.URI`, "not the whole document");
  }
  const transforms = only(reference, "Transforms", `${WHAT}.Reference`).children;
  const names = transforms.map((t) => (t.ns === DS && t.local === "Transform" ? algorithm(t, WHAT) : ""));
  if (names.length !== 2 || names[0] !== ENVELOPED || (names[1] !== C14N11 && names[1] !== C14N10)) {
    throw new MalformedError("unsupported", `${WHAT}.Transforms`, "not enveloped-signature then canonical XML");
  }
  const digestHash = DIGEST_METHODS[algorithm(only(reference, "DigestMethod", `${WHAT}.Reference`), WHAT)];
  if (digestHash === undefined) throw new MalformedError("unsupported", `${WHAT}.DigestMethod`, "not SHA-2");
  const digest = base64Text(only(reference, "DigestValue", `${WHAT}.Reference`), `${WHAT}.DigestValue`, 64);
  const signatureValue = base64Text(only(signature, "SignatureValue", WHAT), `${WHAT}.SignatureValue`, 132);
  const x509Data = only(only(signature, "KeyInfo", WHAT), "X509Data", `${WHAT}.KeyInfo`);
  const certificates = x509Data.children
    .filter((c) => c.ns === DS && c.local === "X509Certificate")
    .map((c, i) => base64Text(c, `${WHAT}.X509Certificate[${i}]`, 16 * 1024));
  if (certificates.length === 0 || certificates.length > MAX_CHAIN) {
    throw new MalformedError("bad-value", `${WHAT}.KeyInfo`, `not 1..${MAX_CHAIN} certificates`);
  }
  // The RIM decodes before anything is trusted, so a malformed one is reported as such.
  const rim = decodeGpuRim(options.xml);

  // Reference validation (XML-DSig §3.2.1): the document without its signature.
  if (!bytesEqual(hash(digestHash, canonicalizeXml(root, { exclude: signature })), digest)) {
    throw new VerificationError("nvidia-rim-digest-mismatch", "the RIM's content does not match its signed digest");
  }
  // Signature validation (§3.2.2) over the canonical SignedInfo, with the signer's key.
  const signer = decodeCertificate(certificates[0]!);
  const ok = await verifySignature(
    { kind: "ecdsa", hash: signatureHash },
    importPublicSpki(signer.spki),
    canonicalizeXml(root, { apex: signedInfo }),
    signatureValue,
  );
  if (!ok) throw new VerificationError("nvidia-rim-signature-invalid", "the RIM's signature does not verify");
  const chain = await verifyCertificateChain({
    leaf: certificates[0]!,
    intermediates: certificates.slice(1),
    roots: options.roots ?? [NVIDIA_RIM_ROOT],
    at: options.at,
  });
  return new VerifiedGpuRim(TOKEN, rim, chain, options.at);
}
