/**
 * `veritee measure` against a live development server, and policy
 * evaluation on its real, fully verified attestation (credential activation
 * included). The server is started in process, exactly as `veritee serve
 * --dev --port 0` starts it; `veritee measure` runs as a user runs it (a
 * separate process, no TPM) and must reproduce the digests the server's
 * launch log holds; the policy it writes must accept the server, and a
 * policy recomputed from modified code must refuse it, naming the code
 * bundle.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  challengeAk,
  confirmAkResidency,
  decodeActivationResponse,
  type VerifiedAttestation,
  verifyAttestationDocument,
} from "@veritee/evidence";
import {
  evaluate,
  type Policy,
  PolicyError,
  parsePolicy,
  parsePolicyJson,
  policyFromReferenceValues,
  verificationInputs,
} from "@veritee/policy";
import { type RunningVeriteeServer, startVeriteeServer } from "@veritee/server";
import { CODE_ROOT, DEFAULT_MODEL } from "../src/commands/serve.js";
import { EXIT } from "../src/exit-codes.js";
import { veritee } from "./run-cli.js";

let server: RunningVeriteeServer;
let tmp: string;
let rootPemFile: string;
let devPolicy: Policy;
/** Verified for a fresh nonce, AK residency proven by credential activation. */
let verified: VerifiedAttestation;

async function attest(policy: Policy, url = server.url): Promise<VerifiedAttestation> {
  const nonce = randomBytes(32);
  const res = await fetch(`${url}/v1/attestation?nonce=${nonce.toString("hex")}`);
  assert.equal(res.status, 200);
  const unproven = await verifyAttestationDocument(new Uint8Array(await res.arrayBuffer()), {
    nonce,
    at: new Date(),
    ...verificationInputs(policy),
  });
  const challenge = await challengeAk(unproven);
  const activation = await fetch(`${url}/v1/attestation/activate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(challenge),
  });
  assert.equal(activation.status, 200);
  return confirmAkResidency(unproven, challenge, decodeActivationResponse(await activation.json()));
}

/** What `veritee serve --dev --port 0` starts (packages/cli/src/commands/serve.ts, buildServeOptions), plus `extra`. */
function startDevServer(extra: Partial<Parameters<typeof startVeriteeServer>[0]> = {}): Promise<RunningVeriteeServer> {
  return startVeriteeServer({
    // The test runner's own flags and variables are not the server's: record a clean launch.
    launchEnvironment: { execArgv: [], env: {} },
    host: "127.0.0.1",
    port: 0,
    engine: { kind: "embedded", model: DEFAULT_MODEL },
    tpm: { kind: "dev" },
    codeRoot: CODE_ROOT,
    ...extra,
  });
}

/** Evaluate, returning the PolicyError it throws. */
function refusal(v: VerifiedAttestation, policy: Policy): PolicyError {
  try {
    evaluate(v, policy, { now: new Date() });
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  assert.fail("the policy accepted the server");
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-measure-"));
  server = await startDevServer();
  rootPemFile = path.join(tmp, "ek-root.pem");
  writeFileSync(rootPemFile, server.referenceValues.ekRootsPem[0]!);
  devPolicy = policyFromReferenceValues(server.referenceValues);
  verified = await attest(devPolicy);
});

after(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

interface MeasureJson {
  development: boolean;
  appPcr: number;
  codeBundle: { digest: string; files: number };
  configuration: { digest: string; config: unknown };
  runtime: { digest: string };
  engineBinaries: { name: string; digest: string }[];
  models: { id: string; digest: string }[];
}

async function measureJson(...args: string[]): Promise<MeasureJson> {
  const r = await veritee("measure", ...args, "--json");
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as MeasureJson;
}

describe("policy evaluation on a live development server", () => {
  test("the policy `veritee serve --write-policy` writes accepts it, AK proven, labelled INSECURE", async () => {
    assert.equal(verified.akResidency, "credential-activation");
    const appraisal = evaluate(verified, devPolicy, { now: new Date() });
    assert.equal(appraisal.verdict, "pass");
    assert.equal(appraisal.insecure, true);
    assert.equal(appraisal.claims.find((c) => c.path === "trust.akProof")!.actual, "credential-activation");
    // The file form round-trips.
    assert.equal(evaluate(verified, parsePolicyJson(JSON.stringify(devPolicy)), { now: new Date() }).verdict, "pass");
  });

  test("a production policy refuses the development server with development-policy-required", async () => {
    const production = JSON.parse(JSON.stringify(devPolicy));
    production.development = false;
    // A production policy cannot even name the swtpm CA or accept zero boot PCRs.
    assert.throws(() => parsePolicy(production), /swtpm local CA/);
    production.trust.ekRoots = [{ name: "Google vTPM EK root", pem: googleRoot() }];
    assert.throws(() => parsePolicy(production), /zero firmware PCR/);
    production.boot.sha256 = "any";
    const error = refusal(verified, parsePolicy(production));
    assert.equal(error.code, "development-policy-required");
    assert.equal(error.claim!.path, "development");
    assert.match(error.message, /expected a production TPM, actual a development TPM/);
  });
});

function googleRoot(): string {
  const der = readFileSync(path.resolve("..", "shared", "vectors", "tpm", "gce", "ca", "tpm_ek_root_1.cer"));
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n");
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

describe("veritee measure", () => {
  test("reproduces the code-bundle, configuration, runtime, engine and model digests of the server's launch log", async () => {
    const m = await measureJson("--dev", "--port", "0");
    const launch = verified.launch;
    assert.equal(m.codeBundle.digest, launch.codeBundle.digest);
    assert.equal(m.codeBundle.files, launch.codeBundle.files);
    assert.equal(m.configuration.digest, launch.configuration.digest);
    assert.deepEqual(m.configuration.config, launch.configuration.config);
    assert.equal(m.runtime.digest, launch.runtime.digest);
    assert.deepEqual(
      m.models.map((x) => [x.id, x.digest]),
      launch.models.map((x) => [x.id, x.digest]),
    );
    // The server measures the native files it mapped (one CPU variant); measure lists every variant.
    assert.ok(launch.engineBinaries.length > 0);
    for (const b of launch.engineBinaries) {
      assert.equal(m.engineBinaries.find((x) => x.name === b.name)?.digest, b.digest, b.name);
    }
    assert.equal(m.development, true);
  });

  test("--config: the configuration the launch log publishes measures to the same digest", async () => {
    const file = path.join(tmp, "config.json");
    writeFileSync(file, JSON.stringify(verified.launch.configuration.config, null, 2));
    const m = await measureJson("--config", file, "--model", DEFAULT_MODEL);
    assert.equal(m.configuration.digest, verified.launch.configuration.digest);
    // Another model file than the configuration pins is refused.
    const other = path.join(tmp, "other.gguf");
    writeFileSync(other, "not the model");
    const r = await veritee("measure", "--config", file, "--model", other);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.stderr, /the configuration pins 270cba1b/);
  });

  test("--write-policy writes a development policy that accepts the live server", async () => {
    const file = path.join(tmp, "measured-policy.json");
    const r = await veritee(
      "measure",
      "--dev",
      "--port",
      "0",
      "--write-policy",
      file,
      "--ek-root",
      rootPemFile,
      "--development",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /DEVELOPMENT policy — INSECURE/);
    assert.match(r.stdout, /INSECURE/);
    const policy = parsePolicyJson(readFileSync(file));
    assert.equal(policy.development, true);
    const appraisal = evaluate(verified, policy, { now: new Date() });
    assert.equal(appraisal.verdict, "pass");
    assert.ok(appraisal.claims.some((c) => c.path.startsWith("launch.engineBinaries") && c.ok));
  });

  test("a policy measured with another configuration refuses the server, naming the configuration", async () => {
    const file = path.join(tmp, "other-config-policy.json");
    const r = await veritee(
      "measure",
      "--dev",
      "--port",
      "0",
      "--context-size",
      "512",
      "--write-policy",
      file,
      "--ek-root",
      rootPemFile,
      "--development",
    );
    assert.equal(r.code, 0, r.stderr);
    const error = refusal(verified, parsePolicyJson(readFileSync(file)));
    assert.equal(error.code, "measurement-mismatch");
    assert.equal(error.claim!.path, "launch.configuration");
    assert.ok(error.message.includes(`actual ${verified.launch.configuration.digest}`));
  });

  test("a release bundle with a modified bin/veritee.js or dist file: its policy refuses the server, naming the code bundle", async () => {
    const bundle = path.join(tmp, "release");
    mkdirSync(bundle);
    cpSync(path.join(CODE_ROOT, "package-lock.json"), path.join(bundle, "package-lock.json"));
    for (const pkg of readdirSync(path.join(CODE_ROOT, "packages"))) {
      const from = path.join(CODE_ROOT, "packages", pkg);
      if (!existsSync(path.join(from, "dist", "src"))) continue;
      cpSync(path.join(from, "package.json"), path.join(bundle, "packages", pkg, "package.json"));
      cpSync(path.join(from, "dist", "src"), path.join(bundle, "packages", pkg, "dist", "src"), { recursive: true });
      if (existsSync(path.join(from, "bin"))) {
        cpSync(path.join(from, "bin"), path.join(bundle, "packages", pkg, "bin"), { recursive: true });
      }
    }
    const unmodified = await measureJson("--dev", "--port", "0", "--code-root", bundle, "--any-engine-binaries");
    assert.equal(unmodified.codeBundle.digest, verified.launch.codeBundle.digest, "a copy measures the same");

    // The entry point `node_modules/.bin/veritee` runs first: a modified one is a different code bundle.
    const bin = path.join(bundle, "packages", "cli", "bin", "veritee.js");
    const cleanBin = readFileSync(bin);
    writeFileSync(bin, `${cleanBin}\n// reads decrypted prompts\n`);
    const binPolicyFile = path.join(tmp, "modified-bin-policy.json");
    const b = await veritee(
      "measure",
      ...["--dev", "--port", "0", "--code-root", bundle, "--any-engine-binaries"],
      ...["--write-policy", binPolicyFile, "--ek-root", rootPemFile, "--development"],
    );
    assert.equal(b.code, 0, b.stderr);
    const binPolicy = parsePolicyJson(readFileSync(binPolicyFile));
    assert.notEqual(binPolicy.launch.codeBundle, verified.launch.codeBundle.digest);
    assert.equal(refusal(verified, binPolicy).claim!.path, "launch.codeBundle");
    writeFileSync(bin, cleanBin);

    const target = path.join(bundle, "packages", "server", "dist", "src", "serve.js");
    writeFileSync(target, `${readFileSync(target, "utf8")}\n// modified\n`);
    const file = path.join(tmp, "modified-policy.json");
    const r = await veritee(
      "measure",
      ...["--dev", "--port", "0", "--code-root", bundle, "--any-engine-binaries"],
      ...["--write-policy", file, "--ek-root", rootPemFile, "--development"],
    );
    assert.equal(r.code, 0, r.stderr);
    const policy = parsePolicyJson(readFileSync(file));
    assert.equal(policy.launch.engineBinaries, "any");
    const error = refusal(verified, policy);
    assert.equal(error.code, "measurement-mismatch");
    assert.equal(error.claim!.path, "launch.codeBundle");
    assert.match(error.message, /^measurement-mismatch: code bundle: expected [0-9a-f]{64}, actual [0-9a-f]{64}$/);
    assert.ok(error.message.includes(verified.launch.codeBundle.digest));
  });

  test("usage errors: fail closed on boot PCRs, one source of configuration, local files only", async () => {
    const cases: [string[], number, RegExp][] = [
      [["--write-policy", path.join(tmp, "x.json"), "--dev"], EXIT.usage, /--ek-root/],
      [
        ["--write-policy", path.join(tmp, "x.json"), "--ek-root", rootPemFile, "--tpm", "device:/dev/tpmrm0"],
        EXIT.usage,
        /boot PCR reference values/,
      ],
      [
        ["--write-policy", path.join(tmp, "x.json"), "--ek-root", rootPemFile, "--dev", "--any-boot-pcrs"],
        EXIT.usage,
        /--development/,
      ],
      [["--ek-root", rootPemFile], EXIT.usage, /goes with --write-policy/],
      [["--config", rootPemFile, "--dev"], EXIT.usage, /excludes the configuration flags/],
      [["--config", rootPemFile], EXIT.usage, /not JSON/],
      [["--model", "hf:owner/repo/model.gguf"], EXIT.usage, /local file/],
      [["--engine", "upstream", "--upstream-url", "http://127.0.0.1:1/v1"], EXIT.usage, /--upstream-model/],
      [["--model", path.join(tmp, "missing.gguf")], EXIT.environment, /cannot open/],
      [["--code-root", tmp, "--any-engine-binaries"], EXIT.environment, /cannot/],
      [["--dev", "--model-sha256", "00".repeat(32)], EXIT.usage, /does not match the model file/],
    ];
    for (const [args, code, message] of cases) {
      const r = await veritee("measure", ...args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
    }
  });

  test("a production policy with explicit boot PCRs and an upstream configuration", async () => {
    const file = path.join(tmp, "upstream-policy.json");
    const google = path.join(tmp, "google-root.pem");
    writeFileSync(google, googleRoot());
    const r = await veritee(
      "measure",
      ...["--engine", "upstream", "--upstream-url", "http://127.0.0.1:8000/v1", "--upstream-model", "llama"],
      ...["--tpm", "device:/dev/tpmrm0", "--write-policy", file, "--ek-root", google],
      ...["--boot-pcr", `0=${"A1".repeat(32)}`, "--boot-pcr", `0=${"b2".repeat(32)}`, "--boot-pcr", "7=any"],
      "--max-age",
      "60",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /INSECURE/);
    const policy = parsePolicyJson(readFileSync(file));
    assert.equal(policy.development, false);
    assert.deepEqual(policy.boot.sha256, { "0": ["a1".repeat(32), "b2".repeat(32)], "7": "any" });
    assert.deepEqual(policy.launch.engineBinaries, {});
    assert.deepEqual(policy.launch.models, {});
    assert.equal(policy.freshness.maxAgeSeconds, 60);
  });
});

describe("the access rules are measured", () => {
  const API_KEY = "canary-api-key-0123456789abcdef";
  let guarded: RunningVeriteeServer | undefined;

  after(async () => {
    await guarded?.close();
  });

  test("a sealed-only, key-protected server: only the policy measured with --require-sealed --api-keys accepts it, and no key is measured", async () => {
    guarded = await startDevServer({ requireSealed: true, apiKeys: [API_KEY] });
    const root = path.join(tmp, "guarded-ek-root.pem");
    writeFileSync(root, guarded.referenceValues.ekRootsPem[0]!);
    const proven = await attest(policyFromReferenceValues(guarded.referenceValues), guarded.url);
    const config = proven.launch.configuration.config as { access?: unknown };
    assert.deepEqual(config.access, { requireSealed: true, requireApiKey: true });
    assert.ok(!JSON.stringify(proven.launch.configuration.config).includes(API_KEY), "the key is not measured");

    const policyFor = async (name: string, ...flags: string[]) => {
      const file = path.join(tmp, name);
      const r = await veritee(
        "measure",
        ...["--dev", "--port", "0", ...flags],
        ...["--write-policy", file, "--ek-root", root, "--development"],
      );
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!(r.stdout + r.stderr).includes(API_KEY));
      return parsePolicyJson(readFileSync(file));
    };
    const sealedOnly = await policyFor("sealed-only.json", "--require-sealed", "--api-keys");
    assert.equal(evaluate(proven, sealedOnly, { now: new Date() }).verdict, "pass");
    for (const [name, flags] of [
      ["open.json", []],
      ["keys-only.json", ["--api-keys"]],
      ["sealed-no-keys.json", ["--require-sealed"]],
    ] as const) {
      const error = refusal(proven, await policyFor(name, ...flags));
      assert.equal(error.code, "measurement-mismatch", name);
      assert.equal(error.claim!.path, "launch.configuration", name);
    }

    // launch.access demands the same of a configuration the policy does not pin: it holds under "any".
    const unpinned = (doc: Policy, access: unknown) =>
      parsePolicy(JSON.parse(JSON.stringify({ ...doc, launch: { ...doc.launch, configuration: "any", access } })));
    const demand = { requireSealed: true, requireApiKey: true };
    assert.equal(evaluate(proven, unpinned(sealedOnly, demand), { now: new Date() }).verdict, "pass");
    const open = refusal(verified, unpinned(devPolicy, demand));
    assert.equal(open.code, "measurement-mismatch");
    assert.equal(open.claim!.path, "launch.access.requireSealed");
    const keysOnly = refusal(verified, unpinned(devPolicy, { requireSealed: "any", requireApiKey: true }));
    assert.equal(keysOnly.claim!.path, "launch.access.requireApiKey");
  });
});
