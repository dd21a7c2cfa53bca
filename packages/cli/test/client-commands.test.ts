/**
 * `veritee verify`, `complete` and `chat` as a user runs them (separate
 * processes) against a real development server: the readable report with
 * every claim's expected and actual value, the INSECURE label first, JSON
 * output, and one exit code per failure class (policy 12, verification 11,
 * channel 16, client 17, usage 2). The chat loop's history is checked with a
 * recording session.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { createAttestedCertificate } from "@veritee/channel/node";
import type { Session } from "@veritee/client/node";
import { encodePemCertificate, type Policy, policyFromReferenceValues } from "@veritee/policy";
import type { RunningVeriteeServer } from "@veritee/server";
import { sharedPath } from "@veritee/testkit";
import { chatLoop } from "../src/commands/chat.js";
import { EXIT } from "../src/exit-codes.js";
import { runCli } from "./run-cli.js";
import { startDevServer } from "./support/dev-server.js";
import { Relay } from "./support/relay.js";

let server: RunningVeriteeServer;
let tmp: string;
let policy: Policy;
let policyFile: string;

function writePolicy(name: string, change: (doc: Record<string, unknown>) => void = () => undefined): string {
  const doc = JSON.parse(JSON.stringify(policy)) as Record<string, unknown>;
  change(doc);
  const file = path.join(tmp, name);
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-client-cli-"));
  server = await startDevServer();
  policy = policyFromReferenceValues(server.referenceValues);
  policyFile = writePolicy("policy.json");
});

after(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("veritee verify", () => {
  test("a readable report: INSECURE first, every evidence step and claim with ✓, expected and actual", async () => {
    const r = await runCli(["verify", `${server.url}/v1`, "--policy", policyFile]);
    assert.equal(r.code, EXIT.ok, r.stderr);
    const lines = r.stdout.split("\n");
    assert.match(lines[0]!, /^⚠ DEVELOPMENT POLICY — INSECURE/);
    assert.match(r.stdout, /✓ EK certificate chains to a policy root/);
    assert.match(r.stdout, /✓ AK resident in the certified TPM \(credential activation\)\n {6}credential-activation\n/);
    const bundle = server.referenceValues.launch.codeBundle;
    assert.ok(r.stdout.includes(`✓ code bundle\n      expected ${bundle}\n      actual   ${bundle}\n`), r.stdout);
    assert.match(r.stdout, /✓ model stories260K\n/);
    assert.match(r.stdout, /✓ sealed bodies/);
    assert.match(r.stdout, /· attested TLS .*: not used/);
    assert.match(lines.at(-2)!, /^PASS — INSECURE: development policy$/);
    assert.ok(!r.stdout.includes("✗"));

    // Over the attested TLS port the pin is used too.
    const tls = await runCli(["verify", server.tlsUrl!, "--policy", policyFile]);
    assert.equal(tls.code, EXIT.ok, tls.stderr);
    assert.match(tls.stdout, /✓ attested TLS \(pinned to the attested SPKI\)\n/);
  });

  test("--json: the same report for machines", async () => {
    const r = await runCli(["verify", server.url, "--policy", policyFile, "--json"]);
    assert.equal(r.code, EXIT.ok, r.stderr);
    const report = JSON.parse(r.stdout) as {
      verdict: string;
      insecure: boolean;
      insecureReasons: { path: string; reason: string }[];
      warning: string;
      evidence: { status: string }[];
      appraisal: { claims: { ok: boolean; path: string; expected: string; actual: string }[] };
      channel: { sealed: boolean; attestedTls: boolean };
      error: null;
    };
    assert.equal(report.verdict, "pass");
    assert.equal(report.insecure, true);
    assert.deepEqual(
      report.insecureReasons.map((r) => r.path),
      ["development"],
    );
    assert.match(report.warning, /INSECURE/);
    assert.deepEqual(new Set(report.evidence.map((s) => s.status)), new Set(["pass"]));
    assert.ok(report.appraisal.claims.every((c) => c.ok));
    assert.ok(report.appraisal.claims.some((c) => c.path === "launch.codeBundle"));
    assert.deepEqual(report.channel, { sealed: true, attestedTls: false });
    assert.equal(report.error, null);
  });

  test("modified code: ✗ code bundle with expected and actual, exit 12 (policy)", async () => {
    const published = "cd".repeat(32);
    const file = writePolicy("modified.json", (doc) => {
      (doc.launch as Record<string, unknown>).codeBundle = published;
    });
    const r = await runCli(["verify", server.url, "--policy", file]);
    assert.equal(r.code, EXIT.policy, r.stderr);
    const actual = server.referenceValues.launch.codeBundle;
    assert.ok(
      r.stdout.includes(
        `✗ code bundle (measurement-mismatch)\n      expected ${published}\n      actual   ${actual}\n`,
      ),
      r.stdout,
    );
    assert.match(r.stdout, /FAIL — policy error measurement-mismatch/);
    assert.match(r.stderr, /^veritee: policy error measurement-mismatch: .*code bundle/m);
    const json = JSON.parse((await runCli(["verify", server.url, "--policy", file, "--json"])).stdout) as {
      verdict: string;
      error: { kind: string; code: string; claim: { path: string; expected: string; actual: string } };
    };
    assert.equal(json.verdict, "fail");
    assert.deepEqual(
      [json.error.kind, json.error.code, json.error.claim.path, json.error.claim.expected, json.error.claim.actual],
      ["policy", "measurement-mismatch", "launch.codeBundle", published, actual],
    );
  });

  test("a production policy: the EK does not chain (exit 11); later steps are not checked", async () => {
    const gceRoot = encodePemCertificate(
      new Uint8Array(readFileSync(sharedPath("vectors", "tpm", "gce", "ca", "tpm_ek_root_1.cer"))),
    );
    const file = writePolicy("production.json", (doc) => {
      doc.development = false;
      doc.trust = {
        ekRoots: [{ name: "Google", pem: gceRoot }],
        ekIntermediates: [],
        akProof: "credential-activation",
      };
      (doc.boot as Record<string, unknown>).sha256 = "any";
    });
    const r = await runCli(["verify", server.url, "--policy", file]);
    assert.equal(r.code, EXIT.verification, r.stderr);
    // Not a development policy, but boot.sha256 "any" skips the measured-boot check: labelled first, with the reason.
    assert.match(
      r.stdout,
      /^⚠ INSECURE POLICY — these security checks accept anything: boot\.sha256\n {2}- boot\.sha256: any boot PCR values are accepted/,
    );
    assert.ok(!r.stdout.includes("DEVELOPMENT"));
    assert.match(r.stdout, /✓ attestation document for a fresh 32-byte nonce\n/);
    assert.match(r.stdout, /✗ EK certificate chains to a policy root .*\n {6}cert-untrusted-root/);
    assert.match(r.stdout, /· AK resident in the certified TPM .*\(not checked\)/);
    assert.match(r.stdout, /policy\n {2}· not evaluated/);
  });

  test("a MITM with its own certificate: exit 16 (channel); an unreachable server: exit 17 (client)", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const cert = createAttestedCertificate({
      privateKey,
      spki: new Uint8Array(publicKey.export({ format: "der", type: "spki" })),
    });
    const mitm = await Relay.start(
      server.tlsUrl!,
      {},
      {
        key: privateKey.export({ format: "pem", type: "pkcs8" }) as string,
        cert: cert.pem,
      },
    );
    try {
      const r = await runCli(["verify", mitm.url, "--policy", policyFile]);
      assert.equal(r.code, EXIT.channel, r.stderr);
      assert.match(r.stderr, /channel error pin-mismatch/);
    } finally {
      await mitm.close();
    }
    const down = await runCli(["verify", "http://127.0.0.1:1", "--policy", policyFile]);
    assert.equal(down.code, EXIT.client, down.stderr);
    assert.match(down.stdout, /✗ attestation document/);
  });

  test("an invalid policy is a usage error (exit 2) naming the field; a missing file exit 15", async () => {
    const file = writePolicy("invalid.json", (doc) => {
      (doc.launch as Record<string, unknown>).codeBundle = "not a digest";
    });
    const r = await runCli(["verify", server.url, "--policy", file]);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.stderr, /invalid-policy: .*launch\.codeBundle/);
    const missing = await runCli(["verify", server.url, "--policy", path.join(tmp, "nope.json")]);
    assert.equal(missing.code, EXIT.environment);
  });
});

describe("--timeout on verify, complete and chat", () => {
  /** A relay that never answers requests whose path starts with `prefix` (and forwards the rest). */
  const silentFor = (prefix: string) =>
    Relay.start(server.url, { answer: (r) => (r.path.startsWith(prefix) ? new Promise<never>(() => {}) : undefined) });

  test("a server that accepts and never answers: verify fails in --timeout seconds with exit 17 (client timeout)", async () => {
    const silent = await silentFor("/");
    try {
      const start = performance.now();
      const r = await runCli(["verify", `${silent.url}/v1`, "--policy", policyFile, "--timeout", "1"]);
      assert.ok(performance.now() - start < 8000, "the timeout, not the test runner, ended it");
      assert.equal(r.code, EXIT.client, r.stderr);
      assert.match(r.stdout, /✗ attestation document/);
      assert.match(r.stdout, /FAIL — client error timeout/);
      const json = await runCli(["verify", `${silent.url}/v1`, "--policy", policyFile, "--timeout", "1", "--json"]);
      assert.equal(json.code, EXIT.client);
      assert.equal(JSON.parse(json.stdout).error.code, "timeout");
    } finally {
      await silent.close();
    }
  });

  test("a server verified and then silent on the completion: complete and chat exit 17 (request limit)", async () => {
    // A relay sees only the sealed channel's one outer path (`POST /v1/sealed`), never the inner one; with --model
    // the completion is the first sealed request, so silence there is silence on the completion.
    const silent = await silentFor("/v1/sealed");
    const silentChat = await silentFor("/v1/sealed");
    try {
      // One flag sets every limit, so it must leave room for a real attestation on a loaded machine.
      const model = ["--model", "stories260K", "--timeout", "8"];
      const [r, c] = await Promise.all([
        runCli(["complete", `${silent.url}/v1`, "--policy", policyFile, "--prompt", "x", ...model]),
        runCli(["chat", `${silentChat.url}/v1`, "--policy", policyFile, ...model], "Hello\n"),
      ]);
      assert.equal(r.code, EXIT.client, r.stderr);
      assert.match(r.stderr, /verified .*policy claims passed/);
      assert.match(r.stderr, /client error timeout: the request limit passed/);
      assert.equal(c.code, EXIT.client, c.stderr);
      assert.match(c.stderr, /verified .*policy claims passed/);
      assert.match(c.stderr, /client error timeout: the request limit passed/);
    } finally {
      await silent.close();
      await silentChat.close();
    }
  });

  test("--timeout must be an integer 1..86400 seconds: otherwise usage (exit 2), before any network use", async () => {
    for (const value of ["0", "-1", "1.5", "abc", "86401"]) {
      const r = await runCli(["verify", "http://127.0.0.1:1/v1", "--policy", policyFile, "--timeout", value]);
      assert.equal(r.code, EXIT.usage, `${value}: ${r.stderr}`);
      assert.match(r.stderr, /--timeout must be an integer 1\.\.86400/);
    }
  });
});

describe("veritee complete and chat", () => {
  test("complete prints the model's completion on stdout; the INSECURE label and summary go to stderr", async () => {
    const r = await runCli([
      "complete",
      server.url,
      "--policy",
      policyFile,
      "--prompt",
      "Once upon a time",
      "--max-tokens",
      "24",
      "--temperature",
      "0",
    ]);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(r.stdout, /^, there was a little girl named Lily\. She loved to play outside/);
    assert.match(r.stderr, /^⚠ DEVELOPMENT POLICY — INSECURE/);
    assert.match(r.stderr, /verified .*: \d+ policy claims passed .*channel: sealed bodies/);
    const bad = await runCli(["complete", server.url, "--policy", policyFile, "--prompt", "x", "--model", "nope"]);
    assert.equal(bad.code, EXIT.client);
    assert.match(bad.stderr, /request-failed: the server answered HTTP 404 \(model_not_found\)/);
  });

  test("chat reads lines from a pipe and answers each on stdout", async () => {
    const r = await runCli(
      ["chat", server.tlsUrl!, "--policy", policyFile, "--max-tokens", "8", "--temperature", "0"],
      "Hello there\n\nTell me a story\n",
    );
    assert.equal(r.code, EXIT.ok, r.stderr);
    const replies = r.stdout.split("\n").filter((l) => l !== "");
    assert.equal(replies.length, 2, r.stdout);
    assert.match(r.stderr, /channel: sealed bodies \+ attested TLS/);
  });

  test("the chat loop keeps the history: each turn sends every earlier turn and reply", async () => {
    const bodies: { messages: { role: string; content: string }[] }[] = [];
    const session = {
      baseURL: "http://127.0.0.1:9/v1",
      fetch: async (_input: string | URL | Request, init?: RequestInit) => {
        bodies.push(JSON.parse(String(init?.body)));
        const n = bodies.length;
        return new Response(`data: {"choices":[{"delta":{"content":"reply ${n}"}}]}\n\ndata: [DONE]\n\n`, {
          headers: { "content-type": "text/event-stream" },
        });
      },
    } as unknown as Session;
    let out = "";
    async function* lines() {
      yield "first";
      yield "   ";
      yield "second";
      yield "/exit";
      yield "never";
    }
    const history = await chatLoop(session, lines(), {
      model: "m",
      maxTokens: 4,
      system: "be brief",
      write: (t) => {
        out += t;
      },
    });
    assert.equal(out, "reply 1\nreply 2\n");
    assert.deepEqual(bodies[1]!.messages, [
      { role: "system", content: "be brief" },
      { role: "user", content: "first" },
      { role: "assistant", content: "reply 1" },
      { role: "user", content: "second" },
    ]);
    assert.equal(history.length, 5);
  });
});
