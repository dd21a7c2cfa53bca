import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedError } from "@veritee/core";
import {
  buildCertificate,
  type Ca,
  DEFAULT_NOT_AFTER,
  ecKey,
  ext,
  keyId,
  makeIntermediate,
  makeLeaf,
  makeRoot,
  name,
  rsaKey,
  seq,
} from "@veritee/testkit/x509";
import { VerificationError } from "../../src/errors.js";
import { decodeCertificate, TCG_KP_EK_CERTIFICATE } from "../../src/x509/certificate.js";
import { VerifiedCertificateChain, verifyCertificateChain } from "../../src/x509/chain.js";
import { verifyCertificateKey } from "../../src/x509/key-match.js";
import { GCE_AK_CERT, GCE_AT, GCE_INTERMEDIATE_2, GCE_INTERMEDIATE_3, GCE_ROOT } from "./vectors.js";

const ROOT = GCE_ROOT;
const INTERMEDIATE_2 = GCE_INTERMEDIATE_2;
const INTERMEDIATE_3 = GCE_INTERMEDIATE_3;
const AK_CERT = GCE_AK_CERT;

async function rejects(fn: () => unknown, code: string): Promise<void> {
  await assert.rejects(
    async () => fn(),
    (e: unknown) => {
      assert.ok(e instanceof VerificationError, `expected VerificationError, got ${String(e)}`);
      assert.equal(e.code, code);
      return true;
    },
  );
}

describe("verifyCertificateChain on Google's vTPM AK certificate (real vector)", () => {
  it("verifies AK → intermediate 2 → root at the pinned time with the TCG EK EKU", async () => {
    const chain = await verifyCertificateChain({
      leaf: AK_CERT,
      intermediates: [INTERMEDIATE_2],
      roots: [ROOT],
      at: GCE_AT,
      requiredEku: TCG_KP_EK_CERTIFICATE,
    });
    assert.ok(chain instanceof VerifiedCertificateChain);
    assert.equal(chain.path.length, 3);
    assert.equal(chain.leaf.subject.attributes.length, 0, "the AK certificate has an empty subject");
    assert.match(chain.leaf.issuer.text, /tpm_ek_v1_cloud_host-signer-0-2020-10-22/);
    assert.deepEqual(chain.leaf.tpmDevice, { manufacturer: "id:474F4F47", model: "vTPM", version: "id:20160511" });
    assert.equal(chain.leaf.serialHex, "015c189200bf3dcc5ee8d6700145145df04177");
    assert.equal(chain.leaf.notAfter.toISOString(), "2051-08-24T23:16:05.000Z");
    assert.equal(chain.anchor.serialHex, "6f0e24b18dbe4e538c4f96c3a8265ac1");
    assert.equal(chain.leaf.publicKey.kind, "rsa");
    assert.equal(chain.verifiedAt.toISOString(), GCE_AT.toISOString());
    assert.ok(Object.isFrozen(chain));
  });

  it("picks the right intermediate by authority key identifier when both are offered", async () => {
    const chain = await verifyCertificateChain({
      leaf: AK_CERT,
      intermediates: [INTERMEDIATE_3, INTERMEDIATE_2],
      roots: [ROOT],
      at: GCE_AT,
    });
    assert.match(chain.path[1]!.subject.text, /2020-10-22/);
  });

  it("accepts the intermediate itself as the trust anchor", async () => {
    const chain = await verifyCertificateChain({ leaf: AK_CERT, roots: [INTERMEDIATE_2], at: GCE_AT });
    assert.equal(chain.path.length, 2);
  });

  it("rejects a chain that cannot reach a root", async () => {
    await rejects(() => verifyCertificateChain({ leaf: AK_CERT, roots: [ROOT], at: GCE_AT }), "cert-untrusted-root");
    await rejects(
      () => verifyCertificateChain({ leaf: AK_CERT, intermediates: [INTERMEDIATE_2], roots: [], at: GCE_AT }),
      "cert-untrusted-root",
    );
    // intermediate 3 has a different key: name matches but its key id does not.
    await rejects(
      () => verifyCertificateChain({ leaf: AK_CERT, roots: [INTERMEDIATE_3], at: GCE_AT }),
      "cert-untrusted-root",
    );
  });

  it("checks the validity window at the pinned time", async () => {
    const opts = { leaf: AK_CERT, intermediates: [INTERMEDIATE_2], roots: [ROOT] };
    await rejects(() => verifyCertificateChain({ ...opts, at: new Date("2051-08-25T00:00:00Z") }), "cert-expired");
    await rejects(
      () => verifyCertificateChain({ ...opts, at: new Date("2021-08-31T23:11:04Z") }),
      "cert-not-yet-valid",
    );
    // Both bounds are inclusive (RFC 5280 §4.1.2.5).
    await verifyCertificateChain({ ...opts, at: new Date("2021-08-31T23:11:05Z") });
    await verifyCertificateChain({ ...opts, at: new Date("2051-08-24T23:16:05Z") });
    // The intermediate became valid on 2020-10-22: before that the leaf is also not valid, so check a root-only issue.
    await rejects(
      () => verifyCertificateChain({ leaf: INTERMEDIATE_2, roots: [ROOT], at: new Date("2020-10-01T00:00:00Z") }),
      "cert-not-yet-valid",
    );
  });

  it("requires a pinned time", async () => {
    await assert.rejects(
      async () => verifyCertificateChain({ leaf: AK_CERT, roots: [ROOT], at: new Date("not a date") }),
      TypeError,
    );
    await assert.rejects(
      async () => verifyCertificateChain({ leaf: AK_CERT, roots: [ROOT], at: undefined as unknown as Date }),
      TypeError,
    );
  });

  it("enforces the required EKU and the path length", async () => {
    const opts = { leaf: AK_CERT, intermediates: [INTERMEDIATE_2], roots: [ROOT], at: GCE_AT };
    await rejects(() => verifyCertificateChain({ ...opts, requiredEku: "1.3.6.1.5.5.7.3.2" }), "cert-eku-missing");
    await rejects(() => verifyCertificateChain({ ...opts, maxDepth: 2 }), "cert-path-too-long");
    assert.equal((await verifyCertificateChain({ ...opts, maxDepth: 3 })).path.length, 3);
  });

  it("rejects a flipped bit in the signature or in the signed bytes", async () => {
    const badSig = AK_CERT.slice();
    badSig[badSig.length - 10]! ^= 0x01;
    await rejects(
      () => verifyCertificateChain({ leaf: badSig, intermediates: [INTERMEDIATE_2], roots: [ROOT], at: GCE_AT }),
      "cert-signature-invalid",
    );
    const badTbs = AK_CERT.slice();
    const url = new TextEncoder().encode("pki.goog");
    const at = Buffer.from(badTbs).indexOf(Buffer.from(url));
    assert.ok(at > 0);
    badTbs[at]! ^= 0x20; // "Pki.goog": still decodes, no longer what was signed
    await rejects(
      () => verifyCertificateChain({ leaf: badTbs, intermediates: [INTERMEDIATE_2], roots: [ROOT], at: GCE_AT }),
      "cert-signature-invalid",
    );
  });

  it("cannot be constructed outside the verifier", async () => {
    const Ctor = VerifiedCertificateChain as unknown as new (...args: unknown[]) => unknown;
    assert.throws(() => new Ctor(Symbol("VerifiedCertificateChain"), [decodeCertificate(AK_CERT)], GCE_AT), TypeError);
  });
});

describe("verifyCertificateChain on forged chains", () => {
  const root = makeRoot("Test Root");
  const inter = makeIntermediate("Test Intermediate", root);
  const at = new Date("2025-06-01T00:00:00Z");
  const verify = (leaf: Uint8Array, intermediates: Uint8Array[] = [inter.cert], roots = [root.cert]) =>
    verifyCertificateChain({ leaf, intermediates, roots, at, requiredEku: TCG_KP_EK_CERTIFICATE });

  it("accepts a well-formed EC chain, and the leaf key matches", async () => {
    const key = ecKey();
    const chain = await verify(makeLeaf(inter, key));
    assert.equal(chain.path.length, 3);
    verifyCertificateKey(chain, { jwk: key.publicKey.export({ format: "jwk" }) });
    verifyCertificateKey(chain, { spki: new Uint8Array(key.publicKey.export({ format: "der", type: "spki" })) });
    await rejects(
      () => verifyCertificateKey(chain, { jwk: ecKey().publicKey.export({ format: "jwk" }) }),
      "key-mismatch",
    );
    await rejects(
      () => verifyCertificateKey(chain, { jwk: rsaKey().publicKey.export({ format: "jwk" }) }),
      "key-mismatch",
    );
  });

  it("accepts RSA PKCS#1 v1.5 and RSA-PSS signatures", async () => {
    const rsaRoot = makeRoot("RSA Root", rsaKey());
    const pssInter = makeIntermediate("PSS Intermediate", rsaRoot, rsaKey(), { sigAlg: "rsa-pss-sha256" });
    const leaf = makeLeaf(pssInter, rsaKey(), { sigAlg: "rsa-pss-sha256" });
    const chain = await verifyCertificateChain({ leaf, intermediates: [pssInter.cert], roots: [rsaRoot.cert], at });
    assert.equal(chain.path[1]!.signatureAlgorithm.scheme?.kind, "rsa-pss");
    assert.equal(chain.path[0]!.signatureAlgorithm.scheme?.kind, "rsa-pss");
  });

  it("refuses SHA-1 signatures unless allowed", async () => {
    const rsaRoot = makeRoot("RSA Root", rsaKey());
    const leaf = makeLeaf(rsaRoot, ecKey(), { sigAlg: "rsa-sha1" });
    await rejects(() => verifyCertificateChain({ leaf, roots: [rsaRoot.cert], at }), "unsupported-algorithm");
    await verifyCertificateChain({ leaf, roots: [rsaRoot.cert], at, allowSha1: true });
  });

  it("refuses an RSA issuer key under 2048 bits", async () => {
    const weak = makeRoot("Weak Root", rsaKey(1024));
    await rejects(
      () => verifyCertificateChain({ leaf: makeLeaf(weak), roots: [weak.cert], at }),
      "unsupported-algorithm",
    );
  });

  it("rejects a leaf signed by another key under the same issuer name", async () => {
    const impostor: Ca = { ...inter, key: ecKey() };
    await rejects(
      () => verify(makeLeaf(impostor, ecKey(), { extensions: [ext.eku(TCG_KP_EK_CERTIFICATE)] })),
      "cert-signature-invalid",
    );
  });

  it("rejects an issuer that is not a CA", async () => {
    const noBc = makeIntermediate("Test Intermediate", root, ecKey(), {
      extensions: [ext.keyUsage([5])],
    });
    await rejects(() => verify(makeLeaf(noBc), [noBc.cert]), "cert-not-ca");
    const caFalse = makeIntermediate("Test Intermediate", root, ecKey(), {
      extensions: [ext.basicConstraints(false), ext.keyUsage([5])],
    });
    await rejects(() => verify(makeLeaf(caFalse), [caFalse.cert]), "cert-not-ca");
    const notCaRoot = makeRoot("Root", ecKey(), { extensions: [ext.keyUsage([5])] });
    await rejects(
      () => verifyCertificateChain({ leaf: makeLeaf(notCaRoot), roots: [notCaRoot.cert], at }),
      "cert-not-ca",
    );
  });

  it("rejects an issuer whose keyUsage lacks keyCertSign, and accepts one without keyUsage", async () => {
    const noSign = makeIntermediate("Test Intermediate", root, ecKey(), {
      extensions: [ext.basicConstraints(true), ext.keyUsage([0, 6])],
    });
    await rejects(() => verify(makeLeaf(noSign), [noSign.cert]), "cert-key-usage");
    const noKu = makeIntermediate("Test Intermediate", root, ecKey(), { extensions: [ext.basicConstraints(true)] });
    await verify(makeLeaf(noKu), [noKu.cert]);
  });

  it("enforces pathLenConstraint", async () => {
    const strictRoot = makeRoot("Strict Root", ecKey(), {
      extensions: [ext.basicConstraints(true, 0), ext.keyUsage([5])],
    });
    const i1 = makeIntermediate("I1", strictRoot);
    // One intermediate below a pathLen 0 root is too many.
    await rejects(
      () => verifyCertificateChain({ leaf: makeLeaf(i1), intermediates: [i1.cert], roots: [strictRoot.cert], at }),
      "cert-path-too-long",
    );
    // A leaf directly under it is fine.
    await verifyCertificateChain({ leaf: makeLeaf(strictRoot), roots: [strictRoot.cert], at });
    const oneRoot = makeRoot("One Root", ecKey(), { extensions: [ext.basicConstraints(true, 1), ext.keyUsage([5])] });
    const a = makeIntermediate("A", oneRoot);
    const b = makeIntermediate("B", a);
    await verifyCertificateChain({ leaf: makeLeaf(a), intermediates: [a.cert], roots: [oneRoot.cert], at });
    await rejects(
      () => verifyCertificateChain({ leaf: makeLeaf(b), intermediates: [a.cert, b.cert], roots: [oneRoot.cert], at }),
      "cert-path-too-long",
    );
  });

  it("rejects unknown critical extensions but accepts unknown non-critical ones", async () => {
    const base = [ext.basicConstraints(false), ext.eku(TCG_KP_EK_CERTIFICATE), ext.tpmSan("a", "b", "c")];
    await verify(makeLeaf(inter, ecKey(), { extensions: [...base, ext.custom("1.2.3.4", false)] }));
    await rejects(
      () => verify(makeLeaf(inter, ecKey(), { extensions: [...base, ext.custom("1.2.3.4", true)] })),
      "cert-unknown-critical-extension",
    );
    // certificatePolicies is not processed, so critical policies are refused.
    await rejects(
      () => verify(makeLeaf(inter, ecKey(), { extensions: [...base, ext.custom("2.5.29.32", true)] })),
      "cert-unknown-critical-extension",
    );
    const badInter = makeIntermediate("Test Intermediate", root, ecKey(), {
      extensions: [ext.basicConstraints(true), ext.custom("1.2.3.4", true)],
    });
    await rejects(() => verify(makeLeaf(badInter), [badInter.cert]), "cert-unknown-critical-extension");
  });

  it("requires the EKU extension when an EKU is required", async () => {
    await rejects(
      () => verify(makeLeaf(inter, ecKey(), { extensions: [ext.basicConstraints(false)] })),
      "cert-eku-missing",
    );
    await rejects(
      () => verify(makeLeaf(inter, ecKey(), { extensions: [ext.eku("1.3.6.1.5.5.7.3.1")] })),
      "cert-eku-missing",
    );
  });

  it("checks every certificate's validity window, and falls back to a valid duplicate issuer", async () => {
    const expiredInter = makeIntermediate("Test Intermediate", root, inter.key, {
      notAfter: new Date("2025-01-01T00:00:00Z"),
      serial: Uint8Array.of(9),
    });
    const leaf = makeLeaf(inter);
    await rejects(() => verify(leaf, [expiredInter.cert]), "cert-expired");
    // The same CA key re-issued with a longer validity: path building tries both.
    const chain = await verify(leaf, [expiredInter.cert, inter.cert]);
    assert.equal(chain.path[1]!.notAfter.getTime(), DEFAULT_NOT_AFTER.getTime());
    const futureRoot = makeRoot("Future Root", ecKey(), { notBefore: new Date("2030-01-01T00:00:00Z") });
    await rejects(
      () => verifyCertificateChain({ leaf: makeLeaf(futureRoot), roots: [futureRoot.cert], at }),
      "cert-not-yet-valid",
    );
  });

  it("terminates on issuer loops without a root", async () => {
    const ka = ecKey();
    const kb = ecKey();
    const na = name("Loop A");
    const nb = name("Loop B");
    const exts = [ext.basicConstraints(true), ext.keyUsage([5])];
    const aByB = buildCertificate({
      subject: na,
      issuer: nb,
      publicKey: ka.publicKey,
      signingKey: kb.privateKey,
      extensions: exts,
    });
    const bByA = buildCertificate({
      subject: nb,
      issuer: na,
      publicKey: kb.publicKey,
      signingKey: ka.privateKey,
      extensions: exts,
    });
    const leaf = makeLeaf({ name: na, key: ka, cert: aByB });
    await rejects(
      () => verifyCertificateChain({ leaf, intermediates: [aByB, bByA], roots: [root.cert], at }),
      "cert-untrusted-root",
    );
  });

  it("reports the failure of the attempt that got furthest", async () => {
    // Two candidate issuers by name: one with another key and no key id (its signature check fails at
    // depth 1), and the right one, whose root has expired (fails at depth 2): the deeper failure is reported.
    const oldRoot = makeRoot("Old Root", ecKey(), { notAfter: new Date("2025-01-01T00:00:00Z") });
    const i = makeIntermediate("Test Intermediate", oldRoot, inter.key);
    const impostor = makeIntermediate("Test Intermediate", oldRoot, ecKey(), {
      extensions: [ext.basicConstraints(true), ext.keyUsage([5])],
    });
    const leaf = makeLeaf(inter);
    await rejects(() => verify(leaf, [impostor.cert, i.cert], [oldRoot.cert]), "cert-expired");
    await rejects(() => verify(leaf, [impostor.cert], [oldRoot.cert]), "cert-signature-invalid");
  });

  it("keeps negative and non-minimal serial numbers as encoded", async () => {
    const neg = makeLeaf(inter, ecKey(), { serial: Uint8Array.of(0xff, 0x01) });
    assert.equal((await verify(neg)).leaf.serialHex, "ff01");
    const padded = makeLeaf(inter, ecKey(), { serial: Uint8Array.of(0x00, 0x01) });
    assert.equal((await verify(padded)).leaf.serialHex, "0001");
  });

  it("rejects a certificate whose outer signature algorithm differs from the signed one", async () => {
    const rsaRoot = makeRoot("RSA Root", rsaKey());
    const leaf = makeLeaf(rsaRoot, ecKey(), { outerSigAlg: "rsa-pss-sha256" });
    await assert.rejects(async () => verifyCertificateChain({ leaf, roots: [rsaRoot.cert], at }), MalformedError);
  });

  it("rejects the leaf as its own anchor", async () => {
    await rejects(() => verifyCertificateChain({ leaf: root.cert, roots: [root.cert], at }), "cert-untrusted-root");
  });

  it("bounds the work on many candidates", async () => {
    const many = Array.from({ length: 65 }, () => root.cert);
    await assert.rejects(
      async () => verifyCertificateChain({ leaf: makeLeaf(inter), roots: many, at }),
      MalformedError,
    );
    await assert.rejects(
      async () => verifyCertificateChain({ leaf: makeLeaf(inter), roots: [root.cert], at, maxDepth: 1 }),
      RangeError,
    );
  });

  it("decodes an empty subject and a key identifier chain", async () => {
    const leaf = decodeCertificate(makeLeaf(inter));
    assert.deepEqual(leaf.subject.der, seq());
    assert.deepEqual(leaf.authorityKeyId, keyId(inter.key.publicKey));
  });
});
