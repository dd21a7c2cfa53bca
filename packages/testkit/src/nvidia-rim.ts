/**
 * `@veritee/testkit/nvidia-rim`: NVIDIA-style signed RIMs (SWID tags with an
 * enveloped XML-DSig signature, ECDSA P-384) under a test root, to test
 * reference values taken from RIMs.
 *
 * The XML is written in canonical form (Canonical XML 1.1) by construction —
 * sorted attributes, explicit end tags, no redundant namespace declarations —
 * so the digest and the signed SignedInfo are computed from the text itself,
 * without depending on the canonicalizer under test.
 */
import * as nodeCrypto from "node:crypto";
import {
  buildCertificate,
  type Ca,
  ecKey,
  ext,
  type KeyPair,
  keyId,
  makeIntermediate,
  makeRoot,
  name,
} from "./x509.js";

const SWID = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd";
const SHA384_NS = "http://www.w3.org/2001/04/xmlenc#sha384";
const DS = "http://www.w3.org/2000/09/xmldsig#";

/** A RIM signer: its key and its chain (signer first, root last). */
export interface RimSigner {
  readonly root: Ca;
  readonly key: KeyPair;
  readonly chain: readonly Uint8Array[];
}

/** A test RIM signing chain: root → intermediate → signer, all ECDSA P-384. */
export function makeRimSigner(options: { notAfter?: Date } = {}): RimSigner {
  const root = makeRoot("Test CoRIM signing Root CA", ecKey("P-384"), { sigAlg: "ecdsa-sha384" });
  const intermediate = makeIntermediate("Test Reference Value CA", root, ecKey("P-384"), { sigAlg: "ecdsa-sha384" });
  const key = ecKey("P-384");
  const signer = buildCertificate({
    subject: name("Test RIM Signer", "Veritee Test"),
    issuer: intermediate.name,
    publicKey: key.publicKey,
    signingKey: intermediate.key.privateKey,
    sigAlg: "ecdsa-sha384",
    ...(options.notAfter ? { notAfter: options.notAfter } : {}),
    extensions: [ext.keyUsage([0]), ext.ski(keyId(key.publicKey)), ext.aki(keyId(intermediate.key.publicKey))],
  });
  return { root, key, chain: [signer, intermediate.cert, root.cert] };
}

/** What a forged RIM says. */
export interface ForgedRim {
  /** The colloquial version (driver or VBIOS version), e.g. "96.00.9F.00.01". */
  readonly version: string;
  /** Reference values by RIM index (SPDM block index − 1): allowed SHA-384 values, hex. */
  readonly measurements: ReadonlyMap<number, readonly string[]>;
  readonly product?: string;
}

const escapeXml = (v: string) => v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");

/** A signed RIM (XML text) for `rim`, signed by `signer`. */
export function forgeGpuRim(signer: RimSigner, rim: ForgedRim): string {
  const product = escapeXml(rim.product ?? "GH100");
  const tagId = nodeCrypto.createHash("sha384").update(rim.version).digest("hex");
  const resources = [...rim.measurements]
    .sort(([a], [b]) => a - b)
    .map(([index, values]) => {
      const hashes = values.map((v, i) => ` ns2:Hash${i}="${v}"`).join("");
      return `<Resource active="True" alternatives="${values.length}" index="${index}" name="Measurement_${index}" size="48" type="Measurement"${hashes}></Resource>`;
    })
    .join("\n");
  const start = `<SoftwareIdentity xmlns="${SWID}" xmlns:ns2="${SHA384_NS}" corpus="false" name="${product}" patch="false" supplemental="false" tagId="${tagId}" tagVersion="0" version="1.0">`;
  const body = `\n<Meta colloquialVersion="${escapeXml(rim.version)}" product="${product}"></Meta>\n<Payload>\n${resources}\n</Payload>\n`;
  const end = "</SoftwareIdentity>";
  const digest = nodeCrypto
    .createHash("sha384")
    .update(start + body + end)
    .digest("base64");
  const signedInfoInner =
    `<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2006/12/xml-c14n11"></ds:CanonicalizationMethod>` +
    `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"></ds:SignatureMethod>` +
    `<ds:Reference URI=""><ds:Transforms>` +
    `<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform>` +
    `<ds:Transform Algorithm="http://www.w3.org/2006/12/xml-c14n11"></ds:Transform></ds:Transforms>` +
    `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#sha384"></ds:DigestMethod>` +
    `<ds:DigestValue>${digest}</ds:DigestValue></ds:Reference>`;
  // As a subset apex, SignedInfo renders every namespace in scope (c14n11 §2.3), sorted by prefix.
  const canonicalSignedInfo = `<ds:SignedInfo xmlns="${SWID}" xmlns:ds="${DS}" xmlns:ns2="${SHA384_NS}">${signedInfoInner}</ds:SignedInfo>`;
  const signature = nodeCrypto
    .sign("sha384", Buffer.from(canonicalSignedInfo), { key: signer.key.privateKey, dsaEncoding: "ieee-p1363" })
    .toString("base64");
  const certificates = signer.chain
    .map((c) => `<ds:X509Certificate>${Buffer.from(c).toString("base64")}</ds:X509Certificate>`)
    .join("");
  const sig =
    `<ds:Signature xmlns:ds="${DS}"><ds:SignedInfo>${signedInfoInner}</ds:SignedInfo>` +
    `<ds:SignatureValue>${signature}</ds:SignatureValue>` +
    `<ds:KeyInfo><ds:X509Data>${certificates}</ds:X509Data></ds:KeyInfo></ds:Signature>`;
  return start + body + sig + end;
}
