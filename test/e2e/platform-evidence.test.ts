/**
 * Platform evidence end to end: a real development server (swtpm, embedded
 * engine, measured launch) whose configfs-tsm is the in-memory kernel model,
 * answering with SEV-SNP reports signed under a test AMD PKI over whatever
 * report data the server writes; GPU reports from the `gpuEvidence` hook,
 * forged under a test NVIDIA chain. The client verifies with those test
 * roots and evaluates policies requiring (or not) each kind of evidence.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect } from "@veritee/client/node";
import { randomBytes } from "@veritee/core";
import { VerificationError, verifyAttestationDocument } from "@veritee/evidence";
import { decodePemCertificate, type Policy, PolicyError, policyFromReferenceValues } from "@veritee/policy";
import {
  encodeSnpCertTable,
  type GpuEvidenceSource,
  type RunningVeriteeServer,
  SNP_CERT_GUID,
  startVeriteeServer,
} from "@veritee/server";
import { sharedPath } from "@veritee/testkit";
import { forgeGpuReport, makeGpuDeviceChain } from "@veritee/testkit/nvidia";
import { forgeSnpReport, snpTestPki } from "@veritee/testkit/snp";
import { FakeTsm } from "@veritee/testkit/tsm";
import { REPO_ROOT } from "./support/paths.js";
import { tdxRules, snpRules as teeSnpRules } from "./support/tee-rules.js";

const pki = snpTestPki("Milan");
const gpu = makeGpuDeviceChain();
const MEASUREMENT = "a5".repeat(48);
const auxblob = encodeSnpCertTable([
  { guid: SNP_CERT_GUID.vcek, der: pki.vcek },
  { guid: SNP_CERT_GUID.ask, der: pki.ask.cert },
  { guid: SNP_CERT_GUID.ark, der: pki.ark.cert },
]);

/** What the hooks do for the next attestation: honest, or an attack. */
let mode: "honest" | "other-nonce" | "swap-gpu" = "honest";
let staleGpu: Uint8Array | undefined;

const tsm = new FakeTsm("/sys/kernel/config/tsm", "sev_guest", auxblob, (inblob) => {
  const reportData = mode === "other-nonce" ? randomBytes(64) : inblob;
  return forgeSnpReport(pki, { reportData });
});
const gpuEvidence: GpuEvidenceSource = async (nonce) => {
  const report = forgeGpuReport(gpu, { nonce });
  if (mode === "swap-gpu" && staleGpu !== undefined) return [{ report: staleGpu, certificates: gpu.chain }];
  staleGpu = report;
  return [{ report, certificates: gpu.chain }];
};

let server: RunningVeriteeServer;
let base: Policy;

before(async () => {
  server = await startVeriteeServer({
    // The test runner's own flags and variables are not the server's: record a clean launch.
    launchEnvironment: { execArgv: [], env: {} },
    port: 0,
    tpm: { kind: "dev" },
    codeRoot: REPO_ROOT,
    engine: { kind: "embedded", model: sharedPath("models", "stories260K.gguf"), threads: 1 },
    logger: { log: () => undefined },
    platformEvidence: { tsm: { root: "/sys/kernel/config/tsm", fs: tsm } },
    gpuEvidence,
  });
  base = policyFromReferenceValues(server.referenceValues);
});

after(async () => {
  await server?.close();
});

const snpRules = (measurement = MEASUREMENT) => teeSnpRules(measurement);

const gpuRules = {
  measurements: "any",
  driverVersion: "any",
  vbiosVersion: "any",
  nonceBinding: "bound",
  ppcieMode: "any",
};

function policyWith(platform: Record<string, unknown>): object {
  const doc = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  doc.platform = { sevSnp: "none", tdx: "none", nvidiaGpu: "none", azureVtpm: "none", ...platform };
  return doc;
}

const platform = { snp: { roots: pki.roots }, nvidia: { roots: [gpu.root.cert] } };

async function connectWith(policy: object) {
  return connect({ baseURL: `${server.url}/v1`, policy, platform });
}

describe("platform evidence end to end", () => {
  test("a policy requiring SEV-SNP and a GPU passes, with every platform claim", async () => {
    mode = "honest";
    const session = await connectWith(policyWith({ sevSnp: snpRules(), nvidiaGpu: gpuRules }));
    try {
      const { attestation, appraisal } = session;
      assert.equal(attestation.platform.sevSnp?.product, "Milan");
      assert.equal(attestation.platform.gpus.length, 1);
      const paths = appraisal.claims.map((c) => c.path);
      for (const p of ["platform.sevSnp", "platform.sevSnp.measurement", "platform.sevSnp.reportData"]) {
        assert.ok(paths.includes(p), p);
      }
      assert.ok(paths.includes("platform.nvidiaGpu[0].nonceBinding"), paths.join());
      assert.ok(appraisal.claims.every((c) => c.ok));
    } finally {
      await session.close();
    }
  });

  test("a TPM-only policy still verifies the evidence and reports it", async () => {
    mode = "honest";
    const session = await connectWith(policyWith({}));
    try {
      const claim = session.appraisal.claims.find((c) => c.path === "platform.sevSnp");
      assert.equal(claim?.expected, "not required");
      assert.match(claim?.actual ?? "", /verified/);
    } finally {
      await session.close();
    }
  });

  test("a policy requiring TDX fails naming platform.tdx", async () => {
    mode = "honest";
    const tdx = tdxRules();
    await assert.rejects(
      connectWith(policyWith({ tdx })),
      (e: unknown) =>
        e instanceof PolicyError && e.code === "platform-evidence-missing" && e.claim?.path === "platform.tdx",
    );
  });

  test("a policy requiring Azure vTPM evidence fails naming platform.azureVtpm (this server has none)", async () => {
    mode = "honest";
    const azureVtpm = {
      platforms: "any",
      secureBoot: "required",
      tpmEnabled: "required",
      allowConsole: false,
      snp: "any",
      tdx: "any",
    };
    await assert.rejects(
      connectWith(policyWith({ azureVtpm })),
      (e: unknown) =>
        e instanceof PolicyError && e.code === "platform-evidence-missing" && e.claim?.path === "platform.azureVtpm",
    );
  });

  test("a policy requiring another SEV-SNP measurement fails naming it", async () => {
    mode = "honest";
    await assert.rejects(
      connectWith(policyWith({ sevSnp: snpRules("b6".repeat(48)) })),
      (e: unknown) =>
        e instanceof PolicyError &&
        e.code === "measurement-mismatch" &&
        e.claim?.path === "platform.sevSnp.measurement" &&
        e.message.includes(MEASUREMENT),
    );
  });

  test("a report whose report data binds another nonce is refused with platform-binding-mismatch", async () => {
    mode = "other-nonce";
    try {
      await assert.rejects(
        connectWith(policyWith({ sevSnp: snpRules() })),
        (e: unknown) => e instanceof VerificationError && e.code === "platform-binding-mismatch",
      );
    } finally {
      mode = "honest";
    }
  });

  test("a GPU report swapped in from another session is refused", async () => {
    mode = "honest";
    await (await connectWith(policyWith({}))).close();
    mode = "swap-gpu";
    try {
      await assert.rejects(
        connectWith(policyWith({})),
        (e: unknown) => e instanceof VerificationError && e.code === "nvidia-nonce-mismatch",
      );
    } finally {
      mode = "honest";
    }
  });

  test("without the test AMD roots the evidence does not verify (embedded AMD roots only)", async () => {
    mode = "honest";
    const nonce = randomBytes(32);
    const doc = await server.attester.attest(nonce);
    await assert.rejects(
      verifyAttestationDocument(doc, {
        nonce,
        at: new Date(),
        ekRoots: server.referenceValues.ekRootsPem.map((pem) => decodePemCertificate(pem).der),
        platform: { nvidia: { roots: [gpu.root.cert] } },
      }),
      (e: unknown) => e instanceof VerificationError && e.code === "snp-chain-mismatch",
    );
  });
});
