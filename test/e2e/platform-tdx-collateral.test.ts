/**
 * TDX platform evidence end to end, collateral from a directory: a real
 * development server (swtpm, embedded engine) whose configfs-tsm is the
 * in-memory kernel model with provider "tdx_guest", answering with TDX
 * quotes forged under a test Intel PKI over whatever report data the server
 * writes. The client resolves the quote's collateral (TCB info by FMSPC, QE
 * identity, TCB signing chain) from a temporary directory through
 * `directoryCollateral` + `cachedCollateral`: complete, it verifies and the
 * policy's TDX rules pass; without the TCB info, the connection is refused
 * with `CollateralError` `collateral-missing`.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { connect } from "@veritee/client/node";
import { CollateralError, cachedCollateral, collateralKeys, VerificationError } from "@veritee/evidence";
import { directoryCollateral } from "@veritee/evidence/node";
import { type Policy, policyFromReferenceValues } from "@veritee/policy";
import { type RunningVeriteeServer, startVeriteeServer } from "@veritee/server";
import { sharedPath } from "@veritee/testkit";
import {
  forgeQeIdentity,
  forgeTcbInfo,
  forgeTdxQuote,
  makeTdxPki,
  TEST_FMSPC,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import { FakeTsm } from "@veritee/testkit/tsm";
import { REPO_ROOT } from "./support/paths.js";
import { tdxRules } from "./support/tee-rules.js";

const pki = makeTdxPki();
const tsm = new FakeTsm("/sys/kernel/config/tsm", "tdx_guest", null, (inblob) =>
  forgeTdxQuote(pki, { body: { reportData: inblob } }),
);

// Collateral current at the real clock the client verifies with.
const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;
const window = { issueDate: iso(Date.now() - 86_400_000), nextUpdate: iso(Date.now() + 30 * 86_400_000) };

let server: RunningVeriteeServer;
let base: Policy;
let dir: string;

async function put(root: string, item: { kind: string; key: string }, bytes: string): Promise<void> {
  await mkdir(path.join(root, item.kind), { recursive: true });
  await writeFile(path.join(root, item.kind, item.key), bytes);
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "veritee-tdx-collateral-"));
  await put(path.join(dir, "full"), collateralKeys.tdxTcbInfo(TEST_FMSPC), forgeTcbInfo(pki, window));
  for (const root of ["full", "no-tcb-info"]) {
    await put(path.join(dir, root), collateralKeys.tdxQeIdentity(), forgeQeIdentity(pki, window));
    await put(path.join(dir, root), collateralKeys.tcbSigningChain(), tcbSigningChainPem(pki));
  }
  server = await startVeriteeServer({
    // The test runner's own flags and variables are not the server's: record a clean launch.
    launchEnvironment: { execArgv: [], env: {} },
    port: 0,
    tpm: { kind: "dev" },
    codeRoot: REPO_ROOT,
    engine: { kind: "embedded", model: sharedPath("models", "stories260K.gguf"), threads: 1 },
    logger: { log: () => undefined },
    platformEvidence: { tsm: { root: "/sys/kernel/config/tsm", fs: tsm } },
  });
  base = policyFromReferenceValues(server.referenceValues);
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function policy(): object {
  const doc = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  doc.platform = { sevSnp: "none", tdx: tdxRules(), nvidiaGpu: "none", azureVtpm: "none" };
  return doc;
}

function connectWith(collateralDir: string) {
  const collateral = cachedCollateral(directoryCollateral(collateralDir), { maxEntries: 16 });
  return connect({
    baseURL: `${server.url}/v1`,
    policy: policy(),
    platform: { tdx: { roots: [pki.root.cert] }, collateral },
  });
}

describe("TDX platform evidence with collateral from a directory", () => {
  test("complete collateral: the quote verifies (UpToDate) and the TDX rules pass", async () => {
    const session = await connectWith(path.join(dir, "full"));
    try {
      assert.equal(session.attestation.platform.tdx?.tcb.platform, "UpToDate");
      const paths = session.appraisal.claims.map((c) => c.path);
      assert.ok(paths.includes("platform.tdx"), paths.join());
      assert.ok(session.appraisal.claims.every((c) => c.ok));
    } finally {
      await session.close();
    }
  });

  test("the directory lacks the TCB info: refused with collateral-missing naming it", async () => {
    await assert.rejects(
      connectWith(path.join(dir, "no-tcb-info")),
      (e: unknown) =>
        e instanceof CollateralError &&
        e.code === "collateral-missing" &&
        e.message.includes(`tdx-tcb-info/${TEST_FMSPC}`),
    );
  });

  test("no collateral at all: refused with platform-collateral-missing", async () => {
    await assert.rejects(
      connect({ baseURL: `${server.url}/v1`, policy: policy(), platform: { tdx: { roots: [pki.root.cert] } } }),
      (e: unknown) => e instanceof VerificationError && e.code === "platform-collateral-missing",
    );
  });
});
