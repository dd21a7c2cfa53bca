import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { MalformedError, randomBytes, toHex } from "@veritee/core";
import { verifyGpuReport } from "@veritee/evidence";
import { TeeError } from "../../src/tee/errors.js";
import { gpuEvidenceFromCommand, parseGpuEvidence } from "../../src/tee/gpu-command.js";

const dir = mkdtempSync(path.join(tmpdir(), "veritee-gpu-command-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const testkit = path.resolve("packages/testkit/dist/src");

/** A stand-in for NVIDIA's tool: forges a signed report over the nonce it is given, under a test device chain. */
function script(name: string, body: string): string {
  const file = path.join(dir, name);
  const interpreter = name.endsWith(".sh") ? "/bin/sh" : "/usr/bin/env node";
  writeFileSync(file, `#!${interpreter}\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

const forger = script(
  "forge-gpu.mjs",
  `import { writeFileSync } from "node:fs";
import { forgeGpuReport, makeGpuDeviceChain } from ${JSON.stringify(`${testkit}/nvidia.js`)};
const nonce = Buffer.from(process.argv[process.argv.length - 1], "hex");
const device = makeGpuDeviceChain();
const pem = (der) => "-----BEGIN CERTIFICATE-----\\n" + Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\\n") + "\\n-----END CERTIFICATE-----\\n";
writeFileSync(process.env.ROOT_OUT, device.root.cert);
const gpus = [1, 2].map(() => ({ report: Buffer.from(forgeGpuReport(device, { nonce })).toString("hex"), certificateChain: device.chain.map(pem).join("") }));
process.stdout.write(JSON.stringify({ gpus }));`,
);

describe("GPU evidence from a command", () => {
  test("runs the command with the nonce and returns reports that verify for that nonce", async () => {
    const rootOut = path.join(dir, "root.der");
    process.env.ROOT_OUT = rootOut;
    const source = gpuEvidenceFromCommand({ command: process.execPath, args: [forger] });
    const nonce = randomBytes(32);
    const gpus = await source(nonce);
    assert.equal(gpus.length, 2);
    const root = new Uint8Array(readFileSync(rootOut));
    for (const gpu of gpus) {
      const verified = await verifyGpuReport({
        report: gpu.report,
        certChain: gpu.certificates,
        expectedNonce: nonce,
        at: new Date(),
        roots: [root],
      });
      assert.equal(toHex(verified.nonce), toHex(nonce));
    }
  });

  test("a failing, hanging or missing command is a TeeError naming what happened, without its stderr", async () => {
    const fails = script("fails.sh", 'echo "secret detail" >&2; exit 3');
    await assert.rejects(
      gpuEvidenceFromCommand({ command: fails })(randomBytes(32)),
      (e) => e instanceof TeeError && e.code === "failed" && /status 3/.test(e.message) && !/secret/.test(e.message),
    );
    const hangs = script("hangs.sh", "sleep 10");
    await assert.rejects(
      gpuEvidenceFromCommand({ command: hangs, timeoutMs: 200 })(randomBytes(32)),
      (e) => e instanceof TeeError && /timed out/.test(e.message),
    );
    await assert.rejects(
      gpuEvidenceFromCommand({ command: path.join(dir, "missing") })(randomBytes(32)),
      (e) => e instanceof TeeError && /could not run/.test(e.message),
    );
    const garbage = script("garbage.sh", "echo not-json");
    await assert.rejects(
      gpuEvidenceFromCommand({ command: garbage })(randomBytes(32)),
      (e) => e instanceof TeeError && e.code === "malformed",
    );
  });

  test("the output format is strict", () => {
    const chain = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
    const bad = [
      "{}",
      '{"gpus":[]}',
      `{"gpus":[{"report":"zz","certificateChain":${JSON.stringify(chain)}}]}`,
      `{"gpus":[{"report":"","certificateChain":${JSON.stringify(chain)}}]}`,
      `{"gpus":[{"report":"00","certificateChain":${JSON.stringify(chain)},"extra":1}]}`,
      `{"gpus":[{"report":"00"}]}`,
      `{"gpus":${JSON.stringify(Array.from({ length: 9 }, () => ({ report: "00", certificateChain: chain })))}}`,
      "[1]",
    ];
    for (const text of bad) assert.throws(() => parseGpuEvidence(text), MalformedError, text);
  });
});
