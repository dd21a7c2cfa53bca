/**
 * `veritee serve --dev` as a user runs it: a separate process with the
 * embedded model and a fresh development TPM. The official `openai` client
 * talks to it; a verifier checks its attestation; and the "no access to user
 * data" promise is tested: unique canary strings sent through every endpoint
 * (successful, failing and aborted requests) never appear in its stdout,
 * stderr, metrics or any file it wrote.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  challengeAk,
  confirmAkResidency,
  decodeActivationResponse,
  verifyAttestationDocument,
} from "@veritee/evidence";
import OpenAI from "openai";
import { BIN, serverEnv } from "./support/cli.js";

const CANARY = `CANARY-${randomBytes(12).toString("hex")}`;
let tmp: string;
let serverTmp: string;
let child: ChildProcess;
let url: string;
let stdout = "";
let stderr = "";
let policy: {
  development: boolean;
  trust: { ekRoots: { name: string; pem: string }[] };
  launch: { codeBundle: string; models: Record<string, string> };
};

function pemToDer(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64"));
}

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const s = statSync(p, { throwIfNoEntry: false });
    if (s?.isDirectory()) out.push(...filesUnder(p));
    else if (s?.isFile()) out.push(p);
  }
  return out;
}

function assertNoCanaryOnDisk(): void {
  for (const file of filesUnder(tmp)) {
    assert.ok(!readFileSync(file).includes(CANARY), `canary found in ${file}`);
  }
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-serve-"));
  serverTmp = path.join(tmp, "tmp");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(serverTmp);
  child = spawn(
    process.execPath,
    [
      BIN,
      "serve",
      "--dev",
      "--port",
      "0",
      "--parallel",
      "2",
      "--metrics-listen",
      "127.0.0.1:0",
      "--write-policy",
      path.join(tmp, "policy.json"),
    ],
    // The server's temporary files (its development TPM) go under the test's directory, to be searched.
    { cwd: tmp, env: serverEnv({ TMPDIR: serverTmp }), stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match && stdout.includes("policy written")) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  policy = JSON.parse(readFileSync(path.join(tmp, "policy.json"), "utf8"));
});

after(async () => {
  if (child.exitCode === null) {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe("veritee serve --dev", () => {
  test("prints the expected measurements and writes a development policy", async () => {
    assert.match(stdout, /code bundle {5}[0-9a-f]{64}/);
    assert.match(stdout, /model {11}270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d {2}stories260K/);
    assert.equal(policy.development, true);
    assert.equal(policy.launch.models.stories260K, "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");
  });

  test("its attestation verifies against the policy, with the AK proven by credential activation", async () => {
    const nonce = randomBytes(32);
    const res = await fetch(`${url}/v1/attestation?nonce=${nonce.toString("hex")}`);
    assert.equal(res.status, 200);
    let verified = await verifyAttestationDocument(new Uint8Array(await res.arrayBuffer()), {
      nonce,
      at: new Date(),
      ekRoots: policy.trust.ekRoots.map((root) => pemToDer(root.pem)),
    });
    assert.equal(verified.launch.codeBundle.digest, policy.launch.codeBundle);
    const challenge = await challengeAk(verified);
    const activation = await fetch(`${url}/v1/attestation/activate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(challenge),
    });
    verified = confirmAkResidency(verified, challenge, decodeActivationResponse(await activation.json()));
    assert.equal(verified.akResidency, "credential-activation");

    const bad = await fetch(`${url}/v1/attestation?nonce=zz`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { param: string } }).error.param, "nonce");
  });

  test("the official openai client: greedy completion matches the model's reference text; chat streams", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
    const models = await client.models.list();
    assert.deepEqual(
      models.data.map((m) => m.id),
      ["stories260K"],
    );
    const completion = await client.completions.create({
      model: "stories260K",
      prompt: "Once upon a time",
      max_tokens: 24,
      temperature: 0,
    });
    assert.match(completion.choices[0]!.text, /^, there was a little girl named Lily\. She loved to play outside/);
    assert.equal(completion.choices[0]!.finish_reason, "length");
    assert.equal(completion.usage?.completion_tokens, 24);

    const stream = await client.chat.completions.create({
      model: "stories260K",
      messages: [{ role: "user", content: "Tell me a story." }],
      max_tokens: 16,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage ?? usage;
    }
    const whole = await client.chat.completions.create({
      model: "stories260K",
      messages: [{ role: "user", content: "Tell me a story." }],
      max_tokens: 16,
      temperature: 0,
    });
    assert.equal(text, whole.choices[0]!.message.content);
    assert.equal(usage?.completion_tokens, 16);
  });

  test("canary strings through every endpoint never reach logs, metrics or files", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: CANARY, maxRetries: 0 });
    const say = `${CANARY} is a secret word. Once upon a time`;
    await client.chat.completions.create({
      model: "stories260K",
      messages: [{ role: "user", content: say }],
      max_tokens: 8,
    });
    await client.completions.create({ model: "stories260K", prompt: say, max_tokens: 8, stop: [CANARY] });
    await client.embeddings.create({ model: "stories260K", input: [say, CANARY] });
    const stream = await client.chat.completions.create({
      model: "stories260K",
      messages: [
        { role: "system", content: CANARY },
        { role: "user", content: say },
      ],
      max_tokens: 400,
      stream: true,
    });
    for await (const _ of stream) break; // the client goes away mid-stream
    // Failing requests carrying the canary.
    await assert.rejects(
      client.chat.completions.create({ model: CANARY, messages: [{ role: "user", content: say }] }),
      (e: unknown) => e instanceof OpenAI.NotFoundError && !String(e.message).includes(CANARY),
    );
    await assert.rejects(
      client.completions.create({ model: "stories260K", prompt: `${say} `.repeat(400), max_tokens: 4 }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && !String(e.message).includes(CANARY),
    );
    await assert.rejects(
      client.chat.completions.create({ model: "stories260K", messages: [{ role: CANARY as "user", content: say }] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && !String(e.message).includes(CANARY),
    );
    const malformed = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"model": "stories260K", "messages": [{"role": "user", "content": "${CANARY}"`,
    });
    assert.equal(malformed.status, 400);
    assert.ok(!(await malformed.text()).includes(CANARY));
    // Metrics are on the admin listener only: the public port does not publish them.
    assert.equal((await fetch(`${url}/metrics`)).status, 404);
    const metricsUrl = /metrics listening on (http:\/\/\S+)/.exec(stdout)![1]!;
    const metrics = await (await fetch(metricsUrl)).text();
    assert.match(metrics, /veritee_http_requests_total\{route="\/v1\/chat\/completions"/);
    assert.ok(!metrics.includes(CANARY));

    assertNoCanaryOnDisk();
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    assert.ok(!stdout.includes(CANARY), "canary in stdout");
    assert.ok(!stderr.includes(CANARY), "canary in stderr");
    assert.match(stderr, /"route":"\/v1\/chat\/completions"/, "the request log is there, without the data");
    assertNoCanaryOnDisk();
  });
});
