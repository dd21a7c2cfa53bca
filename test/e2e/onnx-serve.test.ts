/**
 * `veritee serve --engine onnx` as a user runs it (issue 13): an MLP built
 * in the test, served on the development TPM; the policy the server writes
 * pins the model's SHA-256 and onnxruntime's native files; a client verifies
 * the server and runs the model through the sealed channel, getting what
 * the reference forward pass computes; the process maps onnxruntime's
 * libraries (measured) and none of llama.cpp's; `veritee measure` computes
 * the same policy from the files alone, and another model's policy fails.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { connect } from "@veritee/client/node";
import { mlp } from "@veritee/testkit/onnx";
import { freePort, runVeritee, startVeritee, type VeriteeProcess } from "./support/process.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-onnx-e2e-"));
const model = mlp({ inputs: 4, hidden: 16, outputs: 2 }, 11);
const file = path.join(tmp, "classifier.onnx");
const policyFile = path.join(tmp, "policy.json");
let server: VeriteeProcess;
let url: string;
let port: number;
const devTpm = path.join(tmp, "dev-tpm");

before(async () => {
  writeFileSync(file, model.bytes);
  port = await freePort();
  server = await startVeritee(
    [
      ...["serve", "--dev", "--dev-state-dir", devTpm, "--engine", "onnx", "--model", file],
      ...["--port", String(port), "--write-policy", policyFile],
    ],
    { ready: /listening on (http:\/\/\S+)[\s\S]*policy written/, timeoutMs: 120_000 },
  );
  url = server.ready[1]!;
});

after(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test("the policy pins the model and onnxruntime; the client verifies, then infers through the sealed channel", async () => {
  const policy = JSON.parse(readFileSync(policyFile, "utf8")) as {
    launch: { models: Record<string, string>; engineBinaries: Record<string, string> };
  };
  assert.equal(policy.launch.models.classifier, createHash("sha256").update(model.bytes).digest("hex"));
  assert.deepEqual(Object.keys(policy.launch.engineBinaries).sort(), [
    "onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1",
    "onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node",
  ]);
  const verify = await runVeritee(["verify", `${url}/v1`, "--policy", policyFile]);
  assert.equal(verify.code, 0, verify.stderr);

  const session = await connect({ baseURL: `${url}/v1`, policy: readFileSync(policyFile, "utf8") });
  try {
    const x = [[0.5, -0.25, 1, 2]];
    const response = await session.fetch(`${url}/v2/models/classifier/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ inputs: [{ name: "x", shape: [1, 4], datatype: "FP32", data: x }] }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { outputs: { name: string; data: number[] }[] };
    const want = model.forward(x[0]!);
    for (const [i, v] of body.outputs[0]!.data.entries()) assert.ok(Math.abs(v - want[i]!) < 1e-5);
  } finally {
    await session.close();
  }
  const maps = readFileSync(`/proc/${server.child.pid}/maps`, "utf8");
  assert.match(maps, /onnxruntime-node\/bin\/napi-v6\/linux\/x64\/libonnxruntime\.so\.1/);
  assert.doesNotMatch(maps, /node-llama-cpp/, "llama.cpp's libraries are loaded in an ONNX server");
});

test("veritee measure --engine onnx computes the same policy from the source and the model file alone", async () => {
  const measured = path.join(tmp, "measured.json");
  const r = await runVeritee([
    ...["measure", "--dev", "--engine", "onnx", "--model", file, "--port", String(port), "--development"],
    ...["--ek-root", path.join(devTpm, "ca", "swtpm-localca-rootca-cert.pem"), "--write-policy", measured],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const verify = await runVeritee(["verify", `${url}/v1`, "--policy", measured]);
  assert.equal(verify.code, 0, verify.stderr);
  // Another model file is another configuration: the server does not pass its policy.
  const other = path.join(tmp, "other.onnx");
  writeFileSync(other, mlp({ inputs: 4, hidden: 16, outputs: 2 }, 12).bytes);
  const otherPolicy = path.join(tmp, "other.json");
  const o = await runVeritee([
    ...["measure", "--dev", "--engine", "onnx", "--model", other, "--port", String(port), "--development"],
    ...["--ek-root", path.join(devTpm, "ca", "swtpm-localca-rootca-cert.pem"), "--write-policy", otherPolicy],
  ]);
  assert.equal(o.code, 0, o.stderr);
  const refused = await runVeritee(["verify", `${url}/v1`, "--policy", otherPolicy]);
  assert.notEqual(refused.code, 0);
});

test("session.infer sends typed arrays as binary tensors and plain arrays as JSON; veritee infer takes JSON and .npy", async () => {
  const x = [0.5, -0.25, 1, 2];
  const want = model.forward(x);
  const near = (got: ArrayLike<number>) => Array.from(got).every((v, i) => Math.abs(v - want[i]!) < 1e-5);
  const session = await connect({ baseURL: `${url}/v1`, policy: readFileSync(policyFile, "utf8") });
  try {
    const [binary] = await session.infer("classifier", [
      { name: "x", datatype: "FP32", shape: [1, 4], data: Float32Array.from(x) },
    ]);
    assert.ok(binary!.data instanceof Float32Array && near(binary!.data), String(binary!.data));
    const [json] = await session.infer("classifier", [{ name: "x", datatype: "FP32", shape: [1, 4], data: [x] }]);
    assert.ok(near(json!.data as Float32Array));
    await assert.rejects(
      session.infer("classifier", [{ name: "x", datatype: "FP32", shape: [1, 5], data: [[1, 2, 3, 4, 5]] }]),
      /input x: dimension 1 is 5, the model takes 4/,
    );
  } finally {
    await session.close();
  }
  const cli = await runVeritee([
    ...["infer", `${url}/v1`, "--policy", policyFile, "--model", "classifier"],
    ...["--input", `x=${JSON.stringify([x])}`, "--json"],
  ]);
  assert.equal(cli.code, 0, cli.stderr);
  const printed = JSON.parse(cli.stdout) as { outputs: { name: string; shape: number[]; data: number[] }[] };
  assert.deepEqual(printed.outputs[0]!.shape, [1, 2]);
  assert.ok(near(printed.outputs[0]!.data));
  // A .npy file (version 1.0, as numpy.save writes it): its own dtype and shape, sent binary.
  const data = new Uint8Array(Float32Array.from(x).buffer);
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }";
  header += `${" ".repeat(63 - ((10 + header.length) % 64))}\n`;
  const npyFile = path.join(tmp, "x.npy");
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  writeFileSync(npyFile, Buffer.concat([head, Buffer.from(header), Buffer.from(data)]));
  const fromNpy = await runVeritee([
    ...["infer", `${url}/v1`, "--policy", policyFile, "--model", "classifier", "--input", `x=@${npyFile}`],
  ]);
  assert.equal(fromNpy.code, 0, fromNpy.stderr);
  assert.match(fromNpy.stdout, /^y {2}FP32 {2}\[1,2\] {2}-?\d/);
  const wrong = await runVeritee([
    ...["infer", `${url}/v1`, "--policy", policyFile, "--model", "classifier", "--input", "x=[[1,2]]"],
  ]);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /input x: dimension 1 is 2, the model takes 4/);
  const absent = await runVeritee([
    ...["infer", `${url}/v1`, "--policy", policyFile, "--model", "nope", "--input", "x=[[1]]"],
  ]);
  assert.equal(absent.code, 2, absent.stderr);
});

test("wrong engine flags exit with usage errors", async () => {
  for (const args of [
    ["serve", "--dev", "--engine", "onnx"],
    ["serve", "--dev", "--engine", "onnx", "--model", path.join(tmp, "absent.onnx")],
    ["serve", "--dev", "--engine", "onnx", "--model", file, "--model", file],
    ["serve", "--dev", "--engine", "onnx", "--model", policyFile],
    ["serve", "--dev", "--engine", "tensorflow"],
  ]) {
    const r = await runVeritee(args);
    assert.ok(r.code === 2 || r.code === 15, `${args.join(" ")}: exit ${r.code} ${r.stderr}`);
  }
});
