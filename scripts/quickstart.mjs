// `npm run quickstart`: the main job on the embedded default, end to end.
//  1. an attested server: `veritee serve --dev` — a fresh development TPM
//     (swtpm with a local EK CA), the embedded model, measured launch — which
//     writes the policy of what it measured;
//  2. the client SDK verifies it before sending anything (`connect` from
//     @veritee/client): fresh nonce → attestation document → EK chain,
//     quote, nonce/key-set binding, launch log replay → credential activation
//     (the AK lives in the certified TPM) → every claim of the policy;
//  3. then a streamed chat completion through the official `openai` client
//     with `fetch: session.fetch`: the request and every response frame are
//     sealed with HPKE to the attested key (and, when the server offers
//     attested TLS, the connection is pinned to the attested TLS key).
// The appraisal and the chat are printed; the server is stopped at the end.
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { ensureAll } from "./ensure-env.mjs";

ensureAll();

const { connect } = await import("@veritee/client/node");
const { formatAppraisal } = await import("@veritee/policy");
const { default: OpenAI } = await import("openai");
const { isLoaderVariable } = await import("@veritee/server");

const workDir = path.join(".veritee", "quickstart");
mkdirSync(workDir, { recursive: true });
const policyFile = path.join(workDir, "policy.json");
const serverLog = path.join(workDir, "server.log");

console.log("== 1. the attested server (development TPM — INSECURE, for development)");
const server = spawn(
  process.execPath,
  [
    "packages/cli/bin/veritee.js",
    ...["serve", "--dev", "--port", "0", "--tls-port", "0", "--write-policy", policyFile],
  ],
  {
    // The server refuses to start with Node.js flags or loader variables (NODE_OPTIONS, LD_PRELOAD, SSL_CERT_FILE, …)
    // that this shell may carry: it gets an environment without them, so it runs exactly what it measures.
    env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !isLoaderVariable(name))),
    // The server's own log (one line per request, never any prompt or completion) goes to a file.
    stdio: ["ignore", "pipe", openSync(serverLog, "w")],
  },
);
const printed = await new Promise((resolve, reject) => {
  let seen = "";
  server.stdout.on("data", (chunk) => {
    process.stdout.write(chunk);
    seen += chunk;
    if (/listening on http:\/\/\S+/.test(seen) && seen.includes("policy written")) resolve(seen);
  });
  server.once("exit", (code) => reject(new Error(`the server exited with code ${code} (see ${serverLog})`)));
});
// The attested TLS endpoint when the server prints one; otherwise plain HTTP, where sealing alone protects.
const url = /(https:\/\/127\.0\.0\.1:\d+)/.exec(printed)?.[1] ?? /listening on (http:\/\/\S+)/.exec(printed)[1];

let failed = false;
try {
  console.log(`\n== 2. the client verifies ${url} before sending any prompt`);
  const session = await connect({ baseURL: url, policy: readFileSync(policyFile, "utf8") });
  const report = formatAppraisal(session.appraisal)
    .trimEnd()
    .split("\n")
    .map((line) => `   ${line}`)
    .join("\n");
  console.log("   ✓ EK certificate → quote over a fresh nonce bound to the key set → launch log replay");
  console.log(`   ✓ AK residency proven by credential activation (${session.attestation.akResidency})`);
  console.log(report);
  const channel = [
    session.channel.sealed ? "request and response bodies sealed with HPKE to the attested key" : "",
    session.channel.attestedTls ? "TLS pinned to the attested key" : "",
  ].filter((s) => s !== "");
  console.log(`   channel: ${channel.join("; ")}`);

  console.log("\n== 3. chat (streamed) with the verified server, through the attested channel");
  const client = new OpenAI({ baseURL: session.baseURL, apiKey: "unused", fetch: session.fetch });
  const models = await client.models.list();
  const prompt = "Tell me a story about a little girl and a red ball.";
  console.log(`   user> ${prompt}`);
  process.stdout.write("   assistant> ");
  const stream = await client.chat.completions.create({
    model: models.data[0].id,
    messages: [{ role: "user", content: prompt }],
    max_tokens: 120,
    temperature: 0,
    stream: true,
  });
  for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
  await session.close();
  console.log("\n\nattested server verified, then chatted with through the sealed channel");
} catch (error) {
  console.error(`\nquickstart failed: ${error.kind ? `${error.kind} error ` : ""}${error.message}`);
  failed = true;
} finally {
  server.kill("SIGTERM");
  await new Promise((resolve) => server.once("exit", resolve));
}
process.exit(failed ? 1 : 0);
