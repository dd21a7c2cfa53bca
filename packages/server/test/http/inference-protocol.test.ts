/**
 * The Open Inference Protocol routes through the real handler, on an MLP
 * built in the test: health, server and model metadata, JSON inference
 * equal to the reference forward pass, output selection, and the protocol's
 * `{"error"}` answers for every malformed request — none quoting a value.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { mlp } from "@veritee/testkit/onnx";
import { OnnxEngine } from "../../src/engine/onnx/onnx-engine.js";
import { inferenceProtocolRoutes } from "../../src/http/inference-protocol.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { WordEngine } from "./support/word-engine.js";

const model = mlp({ inputs: 4, hidden: 8, outputs: 3 }, 7);
const onnx = await OnnxEngine.create();
let server: TestServer;
const CANARY = 98765.4321;

before(async () => {
  await onnx.load("mlp", model.bytes);
  server = await startTestServer(new WordEngine(), {
    extraRoutes: inferenceProtocolRoutes(onnx, { maxElements: 4096 }),
  });
});
after(async () => {
  await server.close();
  await onnx.close();
});

const get = async (path: string) => {
  const r = await fetch(`${server.url}${path}`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};
const infer = async (body: unknown, name = "mlp") => {
  const r = await fetch(`${server.url}/v2/models/${name}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

test("health, server metadata and model metadata", async () => {
  assert.deepEqual(await get("/v2/health/live"), { status: 200, body: { live: true } });
  assert.deepEqual(await get("/v2/health/ready"), { status: 200, body: { ready: true } });
  assert.equal((await get("/v2")).body.name, "veritee");
  const meta = await get("/v2/models/mlp");
  assert.equal(meta.status, 200);
  assert.deepEqual(meta.body.inputs, [{ name: "x", datatype: "FP32", shape: [-1, 4] }]);
  assert.deepEqual(meta.body.outputs, [{ name: "y", datatype: "FP32", shape: [-1, 3] }]);
  assert.match((meta.body.parameters as { sha256: string }).sha256, /^[0-9a-f]{64}$/);
  assert.equal((await get("/v2/models/mlp/ready")).status, 200);
  assert.deepEqual(await get("/v2/models/absent"), { status: 404, body: { error: "no such model" } });
});

test("JSON inference equals the reference forward pass; an id like an id is echoed, outputs can be chosen", async () => {
  const x = [0.25, -0.5, 1, 2];
  const r = await infer({
    id: "req-1",
    inputs: [{ name: "x", shape: [1, 4], datatype: "FP32", data: x }],
    outputs: [{ name: "y" }],
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.model_name, "mlp");
  assert.equal(r.body.id, "req-1");
  const [y] = r.body.outputs as { name: string; datatype: string; shape: number[]; data: number[] }[];
  assert.deepEqual([y!.name, y!.datatype, y!.shape], ["y", "FP32", [1, 3]]);
  const want = model.forward(x);
  for (const [i, v] of y!.data.entries()) assert.ok(Math.abs(v - want[i]!) < 1e-5);
  const odd = await infer({
    id: "not an id <script>",
    inputs: [{ name: "x", shape: [1, 4], datatype: "FP32", data: x }],
  });
  assert.equal(odd.body.id, undefined);
});

test("malformed requests get 400 with the protocol's error, naming the input and never a value", async () => {
  const x = (over: object) => ({ name: "x", shape: [1, 4], datatype: "FP32", data: [1, 2, 3, CANARY], ...over });
  const cases: [unknown, RegExp][] = [
    [{ inputs: [x({ datatype: "INT32" })] }, /input x: datatype INT32, the model takes FP32/],
    [{ inputs: [x({ shape: [1, 5] })] }, /dimension 1 is 5/],
    [{ inputs: [x({ data: [1, 2] })] }, /2 elements for a shape of 4/],
    [{ inputs: [] }, /non-empty/],
    [{ inputs: [x({ name: `x${CANARY}` })] }, /names no input/],
    [{ inputs: [x({ shape: [2000, 4], data: new Array(8000).fill(0) })] }, /more than 4096 elements/],
    [{ inputs: [x({})], outputs: [{ name: "z" }] }, /outputs must name/],
    [{ inputs: [x({})], extra: CANARY }, /unknown member/],
  ];
  for (const [body, message] of cases) {
    const r = await infer(body);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(String(r.body.error), message);
    assert.ok(!JSON.stringify(r.body).includes(String(CANARY)));
  }
  assert.equal((await infer({ inputs: [x({})] }, "absent")).status, 404);
  assert.ok(!server.logger.text().includes(String(CANARY)), "a value reached the log");
});

/** A binary-extension request: the JSON header, then each tensor's little-endian bytes. */
function binaryBody(header: object, ...tensors: Uint8Array[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...tensors]), headerLength: json.length };
}

const postBinary = (body: Buffer, headerLength: number | string) =>
  fetch(`${server.url}/v2/models/mlp/infer`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(headerLength) },
    body: new Uint8Array(body),
  });

test("binary tensors in and out give what JSON tensors give", async () => {
  const rows = [
    [0.25, -0.5, 1, 2],
    [3, 0, -1, 0.5],
  ];
  const x = Float32Array.from(rows.flat());
  const bytes = new Uint8Array(x.buffer);
  const { body, headerLength } = binaryBody(
    {
      inputs: [{ name: "x", shape: [2, 4], datatype: "FP32", parameters: { binary_data_size: bytes.length } }],
      outputs: [{ name: "y", parameters: { binary_data: true } }],
    },
    bytes,
  );
  const r = await postBinary(body, headerLength);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "application/octet-stream");
  const all = Buffer.from(await r.arrayBuffer());
  const split = Number(r.headers.get("inference-header-content-length"));
  const header = JSON.parse(all.subarray(0, split).toString()) as {
    outputs: { name: string; shape: number[]; parameters: { binary_data_size: number } }[];
  };
  assert.deepEqual(header.outputs[0]!.shape, [2, 3]);
  assert.equal(header.outputs[0]!.parameters.binary_data_size, 24);
  const tail = all.subarray(split);
  const y = new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + tail.length));
  const want = rows.flatMap((row) => model.forward(row));
  for (const [i, v] of y.entries()) assert.ok(Math.abs(v - want[i]!) < 1e-5);

  // Binary in, JSON out: the same numbers.
  const jsonOut = binaryBody(
    { inputs: [{ name: "x", shape: [2, 4], datatype: "FP32", parameters: { binary_data_size: bytes.length } }] },
    bytes,
  );
  const j = (await (await postBinary(jsonOut.body, jsonOut.headerLength)).json()) as { outputs: { data: number[] }[] };
  for (const [i, v] of j.outputs[0]!.data.entries()) assert.ok(Math.abs(v - want[i]!) < 1e-5);
});

test("malformed binary requests are refused with the protocol's error", async () => {
  const bytes = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
  const input = (size: number) => ({
    inputs: [{ name: "x", shape: [1, 4], datatype: "FP32", parameters: { binary_data_size: size } }],
  });
  const cases: [Buffer, number | string, RegExp][] = [
    [binaryBody(input(16), bytes).body, 100000, /length of the JSON header/],
    [binaryBody(input(16), bytes).body, "-1", /length of the JSON header/],
    [binaryBody(input(32), bytes).body, binaryBody(input(32), bytes).headerLength, /runs past the body/],
    [binaryBody(input(8), bytes).body, binaryBody(input(8), bytes).headerLength, /follow the last binary tensor/],
    [
      binaryBody(input(12), bytes.subarray(0, 12)).body,
      binaryBody(input(12), bytes.subarray(0, 12)).headerLength,
      /12 bytes of binary data for 4 FP32 elements/,
    ],
  ];
  for (const [body, length, message] of cases) {
    const r = await postBinary(body, length);
    assert.equal(r.status, 400);
    assert.match(String(((await r.json()) as { error: string }).error), message);
  }
});
