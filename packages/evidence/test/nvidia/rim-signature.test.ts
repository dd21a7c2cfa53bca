import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { bytesEqual, MalformedError } from "@veritee/core";
import { sharedPath } from "@veritee/testkit";
import { forgeGpuRim, makeRimSigner } from "@veritee/testkit/nvidia-rim";
import { makeRoot } from "@veritee/testkit/x509";
import fc from "fast-check";
import { VerificationError } from "../../src/errors.js";
import { canonicalizeXml } from "../../src/nvidia/c14n.js";
import { VerifiedGpuRim, verifyGpuRim } from "../../src/nvidia/rim-signature.js";
import { NVIDIA_RIM_ROOT } from "../../src/nvidia/roots.js";
import { parseXml } from "../../src/nvidia/xml.js";

const RIMS = ["1010_0200_882_96005E0001_PROD.swidtag", "g520_0200_885_9600740001_PROD.swidtag"];
const read = (name: string) => readFileSync(sharedPath("vectors", "nvidia", name), "utf8");
/** Within every certificate's validity: the RIM signer's runs 2023-06-23 to 2025-06-22. */
const AT = new Date("2024-06-01T00:00:00Z");
const XML = read(RIMS[1]!);

const code = (c: string) => (e: unknown) => e instanceof VerificationError && e.code === c;
const malformed = (e: unknown) => e instanceof MalformedError;

describe("NVIDIA RIM signatures (enveloped XML-DSig, canonical XML 1.1)", () => {
  it("both vector RIMs verify at a pinned time, chaining to the embedded RIM root", async () => {
    for (const name of RIMS) {
      const verified = await verifyGpuRim({ xml: read(name), at: AT });
      assert.ok(VerifiedGpuRim.is(verified));
      assert.ok(bytesEqual(verified.signer.path.at(-1)!.der, NVIDIA_RIM_ROOT));
      assert.equal(verified.rim.product, "GH100");
      assert.match(verified.rim.version, /^96\.00\./);
    }
  });

  it("the embedded root is the self-signed last certificate the RIMs carry", () => {
    const certs = [...XML.matchAll(/<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/g)].map((m) =>
      Uint8Array.from(Buffer.from(m[1]!.replace(/\s/g, ""), "base64")),
    );
    assert.ok(bytesEqual(certs.at(-1)!, NVIDIA_RIM_ROOT));
  });

  it("outside the signer's validity, or under another root, the chain fails", async () => {
    await assert.rejects(verifyGpuRim({ xml: XML, at: new Date("2026-01-01T00:00:00Z") }), code("cert-expired"));
    await assert.rejects(verifyGpuRim({ xml: XML, at: AT, roots: [makeRoot("Other root").cert] }), (e) => {
      return e instanceof VerificationError && e.code.startsWith("cert-");
    });
  });

  it("a RIM signed under a test root verifies with that root only, and decodes what was signed", async () => {
    const signer = makeRimSigner();
    const xml = forgeGpuRim(signer, { version: "96.00.9F.00.01", measurements: new Map([[2, ["ab".repeat(48)]]]) });
    const verified = await verifyGpuRim({ xml, at: AT, roots: [signer.root.cert] });
    assert.deepEqual(verified.rim.measurements.get(3)?.alternatives, ["ab".repeat(48)]);
    await assert.rejects(
      verifyGpuRim({ xml, at: AT }),
      (e) => e instanceof VerificationError && e.code.startsWith("cert-"),
    );
  });

  it("a changed reference value fails the digest", async () => {
    const hashAttr = /ns2:Hash0="([0-9a-f])/;
    const m = hashAttr.exec(XML.slice(XML.indexOf('index="4"')))!;
    const at = XML.indexOf('index="4"') + m.index + 'ns2:Hash0="'.length;
    const changed = XML.slice(0, at) + (m[1] === "0" ? "1" : "0") + XML.slice(at + 1);
    await assert.rejects(verifyGpuRim({ xml: changed, at: AT }), code("nvidia-rim-digest-mismatch"));
    const version = XML.replace(/colloquialVersion="([^"]+)"/, 'colloquialVersion="99.99.99.99.99"');
    await assert.rejects(verifyGpuRim({ xml: version, at: AT }), code("nvidia-rim-digest-mismatch"));
  });

  it("changes that canonicalization removes still verify (attribute order, quotes, spacing in tags, CRLF)", async () => {
    const root = XML.indexOf("<SoftwareIdentity");
    const tagEnd = XML.indexOf(">", root);
    const tag = XML.slice(root, tagEnd);
    const reordered = tag
      .replace(/ corpus="false"/, "")
      .replace(/ tagVersion="0"/, " tagVersion=\"0\"   corpus='false'");
    const variants = [
      XML.slice(0, root) + reordered + XML.slice(tagEnd),
      XML.replace(/\n/g, "\r\n"),
      XML.replace("<ns0:Entity ", "<ns0:Entity  "),
    ];
    for (const xml of variants) {
      assert.notEqual(xml, XML);
      await verifyGpuRim({ xml, at: AT });
    }
  });

  it("a changed signature value or signed info fails the signature", async () => {
    const sv = /<ds:SignatureValue>\s*(.)/.exec(XML)!;
    const i = sv.index + sv[0].length - 1;
    const flipped = XML.slice(0, i) + (sv[1] === "A" ? "B" : "A") + XML.slice(i + 1);
    await assert.rejects(verifyGpuRim({ xml: flipped, at: AT }), code("nvidia-rim-signature-invalid"));
    const dv = /<ds:DigestValue>\s*(.)/.exec(XML)!;
    const j = dv.index + dv[0].length - 1;
    const otherDigest = XML.slice(0, j) + (dv[1] === "A" ? "B" : "A") + XML.slice(j + 1);
    await assert.rejects(verifyGpuRim({ xml: otherDigest, at: AT }), (e) => {
      return e instanceof VerificationError && e.code.startsWith("nvidia-rim-");
    });
  });

  it("signature profiles outside NVIDIA's are refused (wrapping needs that freedom)", async () => {
    const sigStart = XML.indexOf("<ds:Signature ");
    const sig = XML.slice(sigStart, XML.indexOf("</ds:Signature>") + "</ds:Signature>".length);
    const cases = [
      // a second signature on the root
      XML.replace("</SoftwareIdentity>", `${sig}</SoftwareIdentity>`),
      // the signature moved off the root
      XML.replace(sig, "").replace("</ns0:Payload>", `${sig}</ns0:Payload>`),
      // a reference to part of the document
      XML.replace('<ds:Reference URI="">', '<ds:Reference URI="#x">'),
      // another transform list
      XML.replace('<ds:Transform Algorithm="http://www.w3.org/2006/12/xml-c14n11"/>', ""),
      // a signature method other than ECDSA
      XML.replace("xmldsig-more#ecdsa-sha384", "xmldsig-more#rsa-sha384"),
    ];
    for (const xml of cases) {
      assert.notEqual(xml, XML);
      await assert.rejects(verifyGpuRim({ xml, at: AT }), malformed);
    }
  });

  it("property: single-character changes give a typed error or an equivalent document, nothing else", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(XML.length - 1),
        fc.constantFrom("0", "a", " ", '"', "<", ">", "&", "\n", "="),
        async (i, c) => {
          const xml = XML.slice(0, i) + c + XML.slice(i + 1);
          try {
            await verifyGpuRim({ xml, at: AT });
            // Accepted: then it must canonicalize to the signed document.
            const root = parseXml(xml);
            const original = parseXml(XML);
            const sig = (r: typeof root) => r.children.find((x) => x.local === "Signature")!;
            assert.ok(
              bytesEqual(
                canonicalizeXml(root, { exclude: sig(root) }),
                canonicalizeXml(original, { exclude: sig(original) }),
              ),
            );
          } catch (error) {
            assert.ok(error instanceof MalformedError || error instanceof VerificationError, String(error));
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("canonical XML 1.1", () => {
  const c14n = (xml: string, apex?: (root: ReturnType<typeof parseXml>) => ReturnType<typeof parseXml>) => {
    const root = parseXml(xml);
    return new TextDecoder().decode(canonicalizeXml(root, apex ? { apex: apex(root) } : {}));
  };

  it("sorts namespaces then attributes, expands empty elements, escapes, drops redundant declarations", () => {
    assert.equal(
      c14n(
        `<?xml version="1.0"?>\n<a xmlns:z="u:z" b='2' xmlns="u:d" z:c="&lt;&#9;" a="x&quot;"><e xmlns:z="u:z"/>t&gt;&#13;</a>\n`,
      ),
      '<a xmlns="u:d" xmlns:z="u:z" a="x&quot;" b="2" z:c="&lt;&#x9;"><e></e>t&gt;&#xD;</a>',
    );
  });

  it("a subset's apex renders every namespace in scope; an undone default is rendered", () => {
    const xml = '<r xmlns="u:d" xmlns:p="u:p"><p:s><t xmlns=""/></p:s></r>';
    assert.equal(
      c14n(xml, (r) => r.children[0]!),
      '<p:s xmlns="u:d" xmlns:p="u:p"><t xmlns=""></t></p:s>',
    );
  });

  it("an element outside the document is refused", () => {
    const other = parseXml("<x/>");
    assert.throws(() => canonicalizeXml(parseXml("<y/>"), { apex: other }), malformed);
  });
});
