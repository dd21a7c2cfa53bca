/**
 * The browser build in a real Chromium (issue 4): the verifier, the policy
 * and the sealed channel run on WebCrypto with no Node API and no polyfill.
 *
 * - esbuild bundles test/browser/page.ts for platform "browser" with the
 *   "browser" condition; any `node:` import in the graph fails the build.
 * - `veritee serve --dev` runs as a user runs it (its own process, a fresh
 *   development TPM). A small loopback server serves the page and relays
 *   /v1/* to it byte for byte, so the page talks to the server from its own
 *   origin (and the relay is the untrusted party in between).
 * - In the page: verify the attestation document at a pinned time, answer
 *   credential activation through the server, evaluate the policy (pass, and
 *   a one-measurement-changed policy fails naming it), reject a document
 *   with one flipped byte with the same typed error Node gives, then connect
 *   with the SDK and stream a sealed chat completion.
 *
 * Skipped when Chromium is not installed, except in CI (env CI), where that fails.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { toHex, VeriteeError } from "@veritee/core";
import { verifyAttestationDocument } from "@veritee/evidence";
import { parsePolicyJson, verificationInputs } from "@veritee/policy";
import { build } from "esbuild";
import puppeteer, { type Browser } from "puppeteer-core";
import type { PageInput, PageOutput } from "./browser/page.js";
import { BIN, serverEnv } from "./support/cli.js";
import { REPO_ROOT } from "./support/paths.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI) throw new Error(`Chromium is required in CI: ${CHROMIUM} is missing`);
const skip = missing ? `Chromium not installed (${CHROMIUM}): sudo apt-get install -y chromium` : false;

let tmp: string;
let server: ChildProcess | undefined;
let serverUrl: string;
let relay: Server | undefined;
let origin: string;
let browser: Browser | undefined;
let bundle: string;

/** Start `veritee serve --dev` and wait for its URL and development policy. */
async function startServer(): Promise<void> {
  const child = spawn(
    process.execPath,
    [BIN, "serve", "--dev", "--port", "0", "--parallel", "1", "--write-policy", path.join(tmp, "policy.json")],
    { cwd: tmp, env: serverEnv({ TMPDIR: tmp }), stdio: ["ignore", "pipe", "pipe"] },
  );
  server = child;
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  serverUrl = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match && stdout.includes("policy written")) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "host"]);

/** The page and its bundle, and /v1/* relayed to the server as it is. */
async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? "/";
  if (url === "/") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(
      '<!doctype html><meta charset="utf-8"><title>veritee</title><script type="module" src="/page.js"></script>',
    );
    return;
  }
  if (url === "/page.js") {
    res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
    res.end(bundle);
    return;
  }
  if (!url.startsWith("/v1/")) {
    res.writeHead(404).end();
    return;
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string" && !HOP_BY_HOP.has(name)) headers.set(name, value);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const upstream = await fetch(`${serverUrl}${url}`, {
    method: req.method ?? "GET",
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } : {}),
  } as RequestInit);
  const out: Record<string, string> = {};
  upstream.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) out[name] = value;
  });
  res.writeHead(upstream.status, out);
  if (upstream.body) Readable.fromWeb(upstream.body as import("node:stream/web").ReadableStream).pipe(res);
  else res.end();
}

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-browser-"));
  // The proof of "no Node API": platform "browser" cannot resolve node: built-ins.
  const built = await build({
    entryPoints: [path.join(REPO_ROOT, "test/e2e/dist/browser/page.js")],
    bundle: true,
    platform: "browser",
    conditions: ["browser"],
    format: "esm",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  bundle = built.outputFiles[0]!.text;
  const [, launched] = await Promise.all([
    startServer(),
    puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--headless=new", "--no-sandbox"] }),
  ]);
  browser = launched;
  relay = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  });
  await new Promise<void>((resolve) => relay!.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (relay ? relay.close(resolve) : resolve(undefined)));
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await new Promise((resolve) => server!.once("exit", resolve));
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Node's verdict on `document`: the typed error, or null when it verifies. */
async function nodeError(document: Uint8Array, options: Parameters<typeof verifyAttestationDocument>[1]) {
  try {
    await verifyAttestationDocument(document, options);
    return null;
  } catch (error) {
    assert.ok(error instanceof VeriteeError, String(error));
    return { name: error.name, code: error.code };
  }
}

describe("the browser build in Chromium", { skip }, () => {
  test("the bundle holds no Node API", () => {
    // esbuild already failed the build on any node: import; nothing else may reach for Node either.
    assert.ok(!/["']node:[a-z]/.test(bundle), "a node: specifier survived bundling");
    assert.ok(!/\brequire\(["']/.test(bundle), "a CommonJS require survived bundling");
    assert.ok(!/\bcreateHash\(|\bcreatePublicKey\(/.test(bundle), "node:crypto calls in the bundle");
  });

  test("verify, activate, evaluate, reject tampering and stream a sealed chat, all in the page", async () => {
    const policyText = readFileSync(path.join(tmp, "policy.json"), "utf8");
    const policy = parsePolicyJson(policyText);
    const nonce = randomBytes(32);
    const res = await fetch(`${serverUrl}/v1/attestation?nonce=${nonce.toString("hex")}`);
    assert.equal(res.status, 200);
    const document = new Uint8Array(await res.arrayBuffer());
    const at = new Date();
    const options = { nonce, at, ...verificationInputs(policy) };

    // One flipped byte, at a place where Node's verifier rejects it: the page must give the same typed error.
    let tampered: Uint8Array | undefined;
    let expected: { name: string; code: string } | null = null;
    for (let i = Math.floor(document.length / 2); i < document.length && !expected; i += 97) {
      tampered = document.slice();
      tampered[i]! ^= 0x01;
      expected = await nodeError(tampered, options);
    }
    assert.ok(tampered && expected, "no flipped byte was rejected by Node's verifier");

    const json = JSON.parse(policyText) as { launch: { codeBundle: string } };
    const wrong = `${json.launch.codeBundle.slice(0, -1)}${json.launch.codeBundle.endsWith("0") ? "1" : "0"}`;
    const wrongPolicy = JSON.stringify({ ...json, launch: { ...json.launch, codeBundle: wrong } });

    const page = await browser!.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await page.goto(`${origin}/`, { waitUntil: "load" });
    await page.waitForFunction(() => "veritee" in globalThis, { timeout: 10_000 });
    const input: PageInput = {
      document: toHex(document),
      tampered: toHex(tampered),
      nonce: nonce.toString("hex"),
      at: at.toISOString(),
      policy: policyText,
      wrongPolicy,
    };
    const out = (await page.evaluate(
      (i) => (globalThis as unknown as { veritee: { run(i: PageInput): Promise<PageOutput> } }).veritee.run(i),
      input,
    )) as PageOutput;
    await page.close();
    assert.deepEqual(pageErrors, []);

    assert.equal(out.backend, "web");
    assert.equal(out.codeBundle, json.launch.codeBundle);
    assert.equal(out.akResidency, "credential-activation");
    assert.equal(out.verdict, "pass");
    assert.equal(out.wrongPolicyError?.name, "PolicyError");
    assert.equal(out.wrongPolicyError?.code, "measurement-mismatch");
    // The message names the measurement, with the expected and the actual value.
    assert.ok(out.wrongPolicyError?.message.includes(`code bundle: expected ${wrong}`), out.wrongPolicyError?.message);
    assert.deepEqual({ name: out.tamperedError?.name, code: out.tamperedError?.code }, expected);
    assert.equal(out.sealed, true);
    assert.equal(out.status, 200);
    // A server-sent-events stream, opened frame by frame in the page.
    assert.match(out.streamed, /^data: \{/);
    assert.match(out.streamed, /"chat\.completion\.chunk"/);
    assert.match(out.streamed, /data: \[DONE\]\s*$/);
  });
});
