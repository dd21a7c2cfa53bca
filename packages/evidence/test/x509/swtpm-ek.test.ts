/**
 * EK certificate chains from real swtpm provisioning: swtpm_setup creates the
 * EKs and has swtpm_localca certify them under a fresh local CA (root →
 * signing CA → EK); the RSA EK certificate is read back from NV index
 * 0x01c00002 with tpm2_nvread, as a verifier's attester would.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { EK_NV_INDEX } from "@veritee/core";
import { VerificationError } from "../../src/errors.js";
import { decodeCertificate, TCG_KP_EK_CERTIFICATE } from "../../src/x509/certificate.js";
import { verifyCertificateChain } from "../../src/x509/chain.js";
import { verifyCertificateKey } from "../../src/x509/key-match.js";
import { type ProvisionedTpm, pemToDer, provisionTpm, startSwtpm, swtpmUnavailable } from "../support/swtpm.js";

async function rejects(fn: () => unknown, code: string): Promise<void> {
  await assert.rejects(
    async () => fn(),
    (e: unknown) => e instanceof VerificationError && e.code === code,
  );
}

describe("swtpm EK certificate chains", { skip: swtpmUnavailable }, () => {
  let dir: string;
  let tpmA: ProvisionedTpm;
  let tpmB: ProvisionedTpm;
  let rsaEkCert: Uint8Array;
  let eccEkCert: Uint8Array;
  let rsaEkPem: string;
  let eccEkPem: string;
  let rootA: Uint8Array;
  let issuerA: Uint8Array;
  let at: Date;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "veritee-ek-"));
    tpmA = provisionTpm(path.join(dir, "a"));
    tpmB = provisionTpm(path.join(dir, "b"));
    rootA = pemToDer(readFileSync(tpmA.rootCertPem, "utf8"));
    issuerA = pemToDer(readFileSync(tpmA.issuerCertPem, "utf8"));
    const tpm = await startSwtpm(tpmA.stateDir);
    try {
      const hex = (n: number) => `0x${n.toString(16)}`;
      tpm.tpm2("tpm2_nvread", [hex(EK_NV_INDEX.rsa2048Cert), "-o", "ek-rsa.der"], dir);
      // swtpm_setup stores the ECC EK (NIST P-384) certificate in the high range (TCG EK Credential Profile 2.5 §2.2.1.5).
      tpm.tpm2("tpm2_nvread", [hex(EK_NV_INDEX.eccP384HighCert), "-o", "ek-ecc.der"], dir);
      // The EKs swtpm_setup persisted: RSA at 0x81010001, ECC at 0x81010016.
      tpm.tpm2("tpm2_readpublic", ["-c", "0x81010001", "-f", "pem", "-o", "ek-rsa.pem"], dir);
      tpm.tpm2("tpm2_readpublic", ["-c", "0x81010016", "-f", "pem", "-o", "ek-ecc.pem"], dir);
    } finally {
      await tpm.stop();
    }
    rsaEkCert = new Uint8Array(readFileSync(path.join(dir, "ek-rsa.der")));
    eccEkCert = new Uint8Array(readFileSync(path.join(dir, "ek-ecc.der")));
    rsaEkPem = readFileSync(path.join(dir, "ek-rsa.pem"), "utf8");
    eccEkPem = readFileSync(path.join(dir, "ek-ecc.pem"), "utf8");
    // swtpm_localca issues certificates valid from their creation; validate an hour after that.
    at = new Date(decodeCertificate(rsaEkCert).notBefore.getTime() + 3600_000);
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("verifies the RSA EK certificate read from NV to the local CA root", async () => {
    const chain = await verifyCertificateChain({
      leaf: rsaEkCert,
      intermediates: [issuerA],
      roots: [rootA],
      at,
      requiredEku: TCG_KP_EK_CERTIFICATE,
    });
    assert.equal(chain.path.length, 3);
    assert.equal(chain.leaf.issuer.text, "CN=swtpm-localca");
    assert.equal(chain.anchor.subject.text, "CN=swtpm-localca-rootca");
    assert.deepEqual(chain.leaf.tpmDevice, { manufacturer: "id:00001014", model: "swtpm", version: "id:20191023" });
    // The certificate certifies the EK the TPM holds, not some other key.
    verifyCertificateKey(chain, { spki: pemToDer(rsaEkPem) });
    await rejects(() => verifyCertificateKey(chain, { spki: pemToDer(eccEkPem) }), "key-mismatch");
  });

  it("matches the EK certificate file swtpm_setup wrote", async () => {
    const written = new Uint8Array(readFileSync(path.join(tpmA.certFilesDir, "ek-rsa2048.crt")));
    assert.deepEqual(written, rsaEkCert);
  });

  it("verifies the ECC P-384 EK certificate", async () => {
    const chain = await verifyCertificateChain({
      leaf: eccEkCert,
      intermediates: [issuerA],
      roots: [rootA],
      at,
      requiredEku: TCG_KP_EK_CERTIFICATE,
    });
    assert.equal(chain.leaf.publicKey.kind, "ec");
    verifyCertificateKey(chain, { spki: pemToDer(eccEkPem) });
  });

  it("rejects EK certificates from another swtpm CA", async () => {
    const rootB = pemToDer(readFileSync(tpmB.rootCertPem, "utf8"));
    const issuerB = pemToDer(readFileSync(tpmB.issuerCertPem, "utf8"));
    const ekB = new Uint8Array(readFileSync(path.join(tpmB.certFilesDir, "ek-rsa2048.crt")));
    // Both CAs use the same names (CN=swtpm-localca), so only signatures and key ids tell them apart.
    await rejects(
      () => verifyCertificateChain({ leaf: ekB, intermediates: [issuerA], roots: [rootA], at }),
      "cert-untrusted-root",
    );
    await rejects(
      () => verifyCertificateChain({ leaf: rsaEkCert, intermediates: [issuerB], roots: [rootB], at }),
      "cert-untrusted-root",
    );
    // B's chain is fine on its own.
    await verifyCertificateChain({ leaf: ekB, intermediates: [issuerB], roots: [rootB], at });
    // A's intermediate under B's root: the names chain, the signature does not.
    await rejects(
      () => verifyCertificateChain({ leaf: rsaEkCert, intermediates: [issuerA], roots: [rootB], at }),
      "cert-untrusted-root",
    );
  });

  it("checks validity at the pinned time", async () => {
    const opts = { leaf: rsaEkCert, intermediates: [issuerA], roots: [rootA] };
    await rejects(
      () => verifyCertificateChain({ ...opts, at: new Date("2020-01-01T00:00:00Z") }),
      "cert-not-yet-valid",
    );
    // swtpm certificates expire at the end of year 9999 (GeneralizedTime 99991231235959Z).
    await rejects(() => verifyCertificateChain({ ...opts, at: new Date("+010000-01-01T00:00:00Z") }), "cert-expired");
  });

  it("enforces the required EKU", async () => {
    await rejects(
      () =>
        verifyCertificateChain({
          leaf: rsaEkCert,
          intermediates: [issuerA],
          roots: [rootA],
          at,
          requiredEku: "1.3.6.1.5.5.7.3.2",
        }),
      "cert-eku-missing",
    );
  });
});
