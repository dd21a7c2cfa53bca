/**
 * An Azure confidential VM end to end, on a real development TPM: the swtpm
 * plays the vTPM. Before the server starts, the test makes an RSA AK under
 * the EK, persists it at 0x81000003 (where Azure's paravisor keeps the vTPM
 * AK), defines NV index 0x01400001 and writes into it an HCL report forged
 * under a test AMD PKI whose runtime claims name that AK. The server
 * (`platformEvidence: "azure-vtpm"`, certificates from a directory) quotes
 * with that AK and sends the HCL report; the client verifies it with the
 * test AMD roots and evaluates `platform.azureVtpm`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { connect } from "@veritee/client/node";
import { randomBytes } from "@veritee/core";
import {
  type AttestationDocument,
  attestationExtraData,
  decodeTpm2bPublic,
  keySetDigest,
  publicKeyJwk,
  VerificationError,
  verifyAttestationDocument,
} from "@veritee/evidence";
import {
  decodePemCertificate,
  evaluate,
  type Policy,
  PolicyError,
  parsePolicy,
  policyFromReferenceValues,
} from "@veritee/policy";
import {
  AZURE_AK_PERSISTENT_HANDLE,
  AZURE_HCL_REPORT_NV_INDEX,
  type RunningVeriteeServer,
  startVeriteeServer,
} from "@veritee/server";
import { sharedPath } from "@veritee/testkit";
import { forgeAzureSnp, runtimeClaimsJson } from "@veritee/testkit/azure-vtpm";
import { snpTestPki } from "@veritee/testkit/snp";
import { buildCrl } from "@veritee/testkit/x509";
import { provisionSwtpm, startSwtpm, TpmClient } from "@veritee/tpm";
import { veritee } from "./support/cli.js";
import { REPO_ROOT } from "./support/paths.js";
import { snpRules } from "./support/tee-rules.js";

const pki = snpTestPki("Milan");
const work = mkdtempSync(path.join(tmpdir(), "veritee-azure-e2e-"));
const stateDir = path.join(work, "tpm");
const certDir = path.join(work, "certs");

let server: RunningVeriteeServer;
let base: Policy;
let akPublic: Uint8Array;

/** Make the swtpm look like an Azure vTPM: the AK persisted at 0x81000003, the HCL report naming it in NV. */
async function provisionAzureVtpm(): Promise<void> {
  await provisionSwtpm({ stateDir });
  const sim = await startSwtpm({ stateDir });
  try {
    const tpm = await TpmClient.connect({ kind: "tcp", host: sim.host, port: sim.port });
    try {
      await tpm.startup("clear");
      const ek = await tpm.createEk("rsa2048");
      // Azure's vTPM AK is RSA 2048 (RSASSA-SHA256), a restricted signing key under the EK.
      const ak = await tpm.load(ek.handle, await tpm.createAk(ek.handle, "rsa-2048"));
      await tpm.evictControl(ak.handle, AZURE_AK_PERSISTENT_HANDLE);
      akPublic = ak.publicArea;
      await tpm.flushContext(ak.handle);
      await tpm.flushContext(ek.handle);
    } finally {
      await tpm.close();
    }
    const claims = runtimeClaimsJson({ akPub: publicKeyJwk(decodeTpm2bPublic(akPublic)) });
    // libtpms caps an NV index at 2048 bytes (Azure's is 2600); keep the zero padding small.
    const { hclReport } = forgeAzureSnp(pki, claims, { hcl: { padding: 16 } });
    assert.ok(hclReport.length <= 2048, `${hclReport.length}`);
    const file = path.join(work, "hcl.bin");
    writeFileSync(file, hclReport);
    const env = { ...process.env, TPM2TOOLS_TCTI: `swtpm:host=${sim.host},port=${sim.port}` };
    const nv = `0x${AZURE_HCL_REPORT_NV_INDEX.toString(16)}`;
    const attributes = "ownerwrite|ownerread|authread|authwrite";
    execFileSync("tpm2_nvdefine", [nv, "-C", "o", "-s", String(hclReport.length), "-a", attributes], { env });
    execFileSync("tpm2_nvwrite", [nv, "-C", "o", "-i", file], { env });
  } finally {
    await sim.stop();
  }
}

before(async () => {
  await provisionAzureVtpm();
  execFileSync("mkdir", ["-p", certDir]);
  writeFileSync(path.join(certDir, "vcek.der"), pki.vcek);
  writeFileSync(path.join(certDir, "ask.der"), pki.ask.cert);
  server = await startVeriteeServer({
    // The test runner's own flags and variables are not the server's: record a clean launch.
    launchEnvironment: { execArgv: [], env: {} },
    port: 0,
    tpm: { kind: "dev", stateDir },
    codeRoot: REPO_ROOT,
    engine: { kind: "embedded", model: sharedPath("models", "stories260K.gguf"), threads: 1 },
    logger: { log: () => undefined },
    platformEvidence: "azure-vtpm",
    azureCertificates: { dir: certDir },
  });
  base = policyFromReferenceValues(server.referenceValues);
});

after(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

const azureRules = {
  platforms: ["snp"],
  secureBoot: "required",
  tpmEnabled: "required",
  allowConsole: false,
  snp: snpRules("any"),
  tdx: "any",
};

function policyWith(azureVtpm: unknown, akProof = "credential-activation"): object {
  const doc = JSON.parse(JSON.stringify(base)) as { platform: unknown; trust: { akProof: string } };
  doc.platform = { sevSnp: "none", tdx: "none", nvidiaGpu: "none", azureVtpm };
  doc.trust.akProof = akProof;
  return doc;
}

const platform = { snp: { roots: pki.roots } };
const ekRoots = () => server.referenceValues.ekRootsPem.map((pem) => decodePemCertificate(pem).der);

describe("Azure vTPM evidence end to end (swtpm as the vTPM)", () => {
  test("the server quotes with the HCL's AK and a policy requiring azureVtpm passes, AK activated", async () => {
    assert.equal(server.platformSources.azureVtpm, true);
    assert.deepEqual(server.attester.akPublic, akPublic);
    const session = await connect({ baseURL: `${server.url}/v1`, policy: policyWith(azureRules), platform });
    try {
      const { attestation, appraisal } = session;
      assert.equal(attestation.platform.azureVtpm?.platform, "snp");
      assert.equal(attestation.akResidency, "credential-activation");
      const paths = appraisal.claims.map((c) => c.path);
      for (const p of [
        "platform.azureVtpm",
        "platform.azureVtpm.secureBoot",
        "platform.azureVtpm.allowConsole",
        "platform.azureVtpm.snp.reportData",
      ]) {
        assert.ok(paths.includes(p), p);
      }
      assert.ok(appraisal.claims.every((c) => c.ok));
    } finally {
      await session.close();
    }
  });

  test("akProof any under azureVtpm rules: unactivated, the claim names the HCL binding instead", async () => {
    const nonce = randomBytes(32);
    const verified = await verifyAttestationDocument(await server.attester.attest(nonce), {
      nonce,
      at: new Date(),
      ekRoots: ekRoots(),
      platform,
    });
    assert.equal(verified.akResidency, "unproven");
    const appraisal = evaluate(verified, parsePolicy(policyWith(azureRules, "any")), { now: new Date() });
    const claim = appraisal.claims.find((c) => c.path === "trust.akProof");
    assert.match(claim?.actual ?? "", /the Azure HCL report names this AK/);
    assert.throws(
      () => evaluate(verified, parsePolicy(policyWith(azureRules)), { now: new Date() }),
      (e: unknown) => e instanceof PolicyError && e.code === "ak-residency-unproven",
    );
  });

  test("an HCL report naming another AK is refused with azure-ak-mismatch", async () => {
    const nonce = randomBytes(32);
    const doc = await server.attester.attest(nonce);
    const other = runtimeClaimsJson({ akPub: publicKeyJwk(decodeTpm2bPublic(otherAkPublic())) });
    const { hclReport } = forgeAzureSnp(pki, other, { hcl: { padding: 16 } });
    const entry = doc.platform[0]!;
    assert.equal(entry.kind, "azure-vtpm");
    const forged: AttestationDocument = { ...doc, platform: [{ ...entry, hclReport } as typeof entry] };
    await assert.rejects(
      verifyAttestationDocument(forged, { nonce, at: new Date(), ekRoots: ekRoots(), platform }),
      (e: unknown) => e instanceof VerificationError && e.code === "azure-ak-mismatch",
    );
  });

  test("a policy requiring azureVtpm against a document without it fails naming platform.azureVtpm", async () => {
    // The entry is not covered by the quote, so a relay can strip it: the policy, not the verifier, must notice.
    const nonce = randomBytes(32);
    const doc = await server.attester.attest(nonce);
    const stripped: AttestationDocument = { ...doc, platform: [] };
    const verified = await verifyAttestationDocument(stripped, { nonce, at: new Date(), ekRoots: ekRoots(), platform });
    assert.throws(
      () => evaluate(verified, parsePolicy(policyWith(azureRules, "any")), { now: new Date() }),
      (e: unknown) =>
        e instanceof PolicyError && e.code === "platform-evidence-missing" && e.claim?.path === "platform.azureVtpm",
    );
  });

  test("without the test AMD roots the HCL report's SEV-SNP report does not verify", async () => {
    const nonce = randomBytes(32);
    const doc = await server.attester.attest(nonce);
    await assert.rejects(
      verifyAttestationDocument(doc, { nonce, at: new Date(), ekRoots: ekRoots() }),
      (e: unknown) => e instanceof VerificationError && /^(snp|cert)-/.test(e.code),
    );
  });
});

describe("veritee evidence verify --type azure-vtpm", () => {
  test("verifies the server's HCL report with its quote, and refuses another nonce (exit 11)", async () => {
    const nonce = randomBytes(32);
    const doc = await server.attester.attest(nonce);
    const entry = doc.platform[0]!;
    assert.equal(entry.kind, "azure-vtpm");
    const dir = mkdtempSync(path.join(work, "cli-"));
    const file = (name: string, bytes: Uint8Array) => {
      const f = path.join(dir, name);
      writeFileSync(f, bytes);
      return f;
    };
    const args = [
      "evidence",
      "verify",
      file("hcl.bin", entry.kind === "azure-vtpm" ? entry.hclReport : new Uint8Array()),
      "--type",
      "azure-vtpm",
      "--quote-attest",
      file("attest.bin", doc.quote.attest),
      "--quote-signature",
      file("sig.bin", doc.quote.signature),
      "--ak-public",
      file("ak.pub", doc.ak.public),
      "--cert",
      file("vcek.der", pki.vcek),
      "--cert",
      file("ask.der", pki.ask.cert),
      "--root",
      file("ark.der", pki.ark.cert),
    ];
    const extraData = attestationExtraData(nonce, keySetDigest(doc.keySet));
    const ok = await veritee(...args, "--nonce", Buffer.from(extraData).toString("hex"));
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /HCLAkPub/);
    assert.match(ok.stdout, /PASS/);
    const bad = await veritee(...args, "--nonce", "00".repeat(32), "--json");
    assert.equal(bad.code, 11, bad.stdout + bad.stderr);
    assert.equal(JSON.parse(bad.stdout).failure.code, "nonce-mismatch");

    // AMD's CRL from --collateral DIR (crl/<product>) is applied as for --type snp; without one it says so.
    assert.match(ok.stdout, /· revocation\s+not checked \(no crl\/Milan collateral\)/);
    const withCrl = (name: string, revoked: Uint8Array) => {
      const crl = buildCrl({ issuer: pki.ark, sigAlg: "rsa-pss-sha384", revoked: [{ serial: revoked }] });
      mkdirSync(path.join(dir, name, "crl"), { recursive: true });
      writeFileSync(path.join(dir, name, "crl", "Milan"), crl);
      return ["--collateral", path.join(dir, name)];
    };
    const nonceArg = ["--nonce", Buffer.from(extraData).toString("hex")];
    // The test ASK's serial is 1.
    const revoked = await veritee(...args, ...nonceArg, ...withCrl("revoking", Uint8Array.of(1)), "--json");
    assert.equal(revoked.code, 11, revoked.stdout + revoked.stderr);
    assert.equal(JSON.parse(revoked.stdout).failure.code, "cert-revoked");
    const clean = await veritee(...args, ...nonceArg, ...withCrl("clean", Uint8Array.of(0x42)));
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /✓ revocation\s+ASK not on AMD's CRL/);
  });
});

/** A TPM2B_PUBLIC of another RSA key (the server's EK public area will do: not the AK). */
function otherAkPublic(): Uint8Array {
  return server.attester.ekPublic;
}
