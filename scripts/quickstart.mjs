// `npm run quickstart`: the main job on the embedded default, end to end.
//  1. an attested server: `veritee serve --dev` — a fresh development TPM
//     (swtpm with a local EK CA), the embedded model, measured launch;
//  2. a client that verifies it before sending anything: fresh nonce →
//     attestation document → EK chain, quote, nonce/key-set binding, launch
//     log replay → credential activation (the AK lives in the certified TPM)
//     → every measurement against the policy the server published;
//  3. then a streamed chat completion through the official `openai` client.
// The client's report and the chat are printed; the server is stopped at the end.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { ensureAll } from "./ensure-env.mjs";

ensureAll();

const { challengeAk, confirmAkResidency, verifyAttestationDocument } = await import("@veritee/evidence");
const { default: OpenAI } = await import("openai");

const workDir = path.join(".veritee", "quickstart");
mkdirSync(workDir, { recursive: true });
const policyFile = path.join(workDir, "policy.json");
const serverLog = path.join(workDir, "server.log");

console.log("== 1. the attested server (development TPM — INSECURE, for development)");
const server = spawn(
  process.execPath,
  ["packages/cli/bin/veritee.js", "serve", "--dev", "--port", "0", "--write-policy", policyFile],
  // The server's own log (one line per request, never any prompt or completion) goes to a file.
  { stdio: ["ignore", "pipe", openSync(serverLog, "w")] },
);
const url = await new Promise((resolve, reject) => {
  let seen = "";
  server.stdout.on("data", (chunk) => {
    process.stdout.write(chunk);
    seen += chunk;
    const match = /listening on (http:\/\/\S+)/.exec(seen);
    if (match && seen.includes("policy written")) resolve(match[1]);
  });
  server.once("exit", (code) => reject(new Error(`the server exited with code ${code} (see ${serverLog})`)));
});

let failed = false;
try {
  const policy = JSON.parse(readFileSync(policyFile, "utf8"));
  const pemToDer = (pem) =>
    new Uint8Array(Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64"));

  console.log(`\n== 2. the client verifies ${url} before sending any prompt`);
  if (policy.development)
    console.log("   ⚠ DEVELOPMENT POLICY — INSECURE: a software TPM and its local CA are trusted");
  const nonce = randomBytes(32);
  const response = await fetch(`${url}/v1/attestation?nonce=${nonce.toString("hex")}`);
  if (!response.ok) throw new Error(`attestation request failed: HTTP ${response.status}`);
  let verified = await verifyAttestationDocument(new Uint8Array(await response.arrayBuffer()), {
    nonce,
    at: new Date(),
    ekRoots: policy.trust.ekRootsPem.map(pemToDer),
  });
  const check = (claim, expected, actual) => {
    const ok = expected === actual;
    console.log(`   ${ok ? "✓" : "✗"} ${claim}${ok ? "" : ` — expected ${expected}, got ${actual}`}`);
    if (!ok) throw new Error(`policy mismatch: ${claim}`);
  };
  console.log("   ✓ EK certificate chains to the policy's root; the EK is the TPM's own");
  console.log("   ✓ quote signed by the AK over the fresh nonce bound to the server's key set");
  console.log(`   ✓ launch log replays to the quoted PCR ${verified.appPcr}, sealed by its separator`);

  const challenge = challengeAk(verified);
  const activation = await fetch(`${url}/v1/attestation/activate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(challenge),
  });
  const { secret } = await activation.json();
  verified = confirmAkResidency(verified, challenge, new Uint8Array(Buffer.from(secret, "base64")));
  console.log(`   ✓ AK residency proven by credential activation (${verified.akResidency})`);

  const launch = verified.launch;
  for (const [index, value] of Object.entries(policy.pcrs.sha256)) {
    check(`boot PCR ${index}`, value, Buffer.from(verified.bootPcrs.get(Number(index))).toString("hex"));
  }
  check("code bundle", policy.launch.codeBundle, launch.codeBundle.digest);
  check("configuration", policy.launch.configuration, launch.configuration.digest);
  check("runtime", policy.launch.runtime, launch.runtime.digest);
  for (const binary of launch.engineBinaries) {
    check(`engine binary ${path.basename(binary.name)}`, policy.launch.engineBinaries[binary.name], binary.digest);
  }
  for (const model of launch.models) check(`model ${model.id}`, policy.launch.models[model.id], model.digest);

  console.log("\n== 3. chat (streamed) with the verified server");
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused" });
  const prompt = "Tell me a story about a little girl and a red ball.";
  console.log(`   user> ${prompt}`);
  process.stdout.write("   assistant> ");
  const stream = await client.chat.completions.create({
    model: Object.keys(policy.launch.models)[0],
    messages: [{ role: "user", content: prompt }],
    max_tokens: 120,
    temperature: 0,
    stream: true,
  });
  for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
  console.log("\n\nattested server verified, then chatted with");
} catch (error) {
  console.error(`\nquickstart failed: ${error.message}`);
  failed = true;
} finally {
  server.kill("SIGTERM");
  await new Promise((resolve) => server.once("exit", resolve));
}
process.exit(failed ? 1 : 0);
