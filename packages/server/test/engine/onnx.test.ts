/**
 * The ONNX engine and the v2 tensor checks, on models built in the test
 * (@veritee/testkit/onnx) and checked against values computed here
 * independently: metadata from the session, outputs equal to the reference
 * forward pass, every malformed input refused naming the model's input and
 * never a value, files that are not models (or need external data) refused.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { convClassifier, mlp, ONNX_TYPE, onnxModel, weights } from "@veritee/testkit/onnx";
import fc from "fast-check";
import { OnnxEngine, OnnxEngineError } from "../../src/engine/onnx/onnx-engine.js";
import { checkInputs, TensorError, type TensorSpec } from "../../src/engine/onnx/tensors.js";

const CANARY = 1234.5678;
const close = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= 1e-5 * Math.max(1, Math.abs(b[i]!)));

test("an MLP loads with its metadata and runs as its reference forward pass, batch 1 and 3", async () => {
  const model = mlp({ inputs: 4, hidden: 8, outputs: 3 });
  const engine = await OnnxEngine.create();
  try {
    const info = await engine.load("mlp", model.bytes);
    assert.equal(info.sha256, createHash("sha256").update(model.bytes).digest("hex"));
    assert.deepEqual(info.inputs, [{ name: "x", datatype: "FP32", shape: [-1, 4] }]);
    assert.deepEqual(info.outputs, [{ name: "y", datatype: "FP32", shape: [-1, 3] }]);
    const rows = [
      [0.5, -1, 2, 0.25],
      [0, 0, 0, 0],
      [-3, 1.5, 0.125, 9],
    ];
    const one = await engine.infer("mlp", [{ name: "x", shape: [1, 4], datatype: "FP32", data: rows[0] }]);
    assert.deepEqual(one.outputs[0]!.shape, [1, 3]);
    assert.ok(close(Array.from(one.outputs[0]!.raw as Float32Array), model.forward(rows[0]!)));
    // Nested data as the shape, as the protocol allows.
    const three = await engine.infer("mlp", [{ name: "x", shape: [3, 4], datatype: "FP32", data: rows }]);
    assert.ok(
      close(
        Array.from(three.outputs[0]!.raw as Float32Array),
        rows.flatMap((r) => model.forward(r)),
      ),
    );
    assert.equal(await engine.unload("mlp"), true);
    await assert.rejects(
      engine.infer("mlp", []),
      (e: unknown) => e instanceof OnnxEngineError && e.code === "not-found",
    );
  } finally {
    await engine.close();
  }
});

test("every malformed input is refused naming the model's input, never a value of the request", () => {
  const specs: TensorSpec[] = [
    { name: "x", datatype: "FP32", shape: [-1, 4] },
    { name: "ids", datatype: "INT64", shape: [2] },
  ];
  const ids = { name: "ids", shape: [2], datatype: "INT64", data: [1, 2] };
  const x = (over: object) => ({ name: "x", shape: [1, 4], datatype: "FP32", data: [1, 2, 3, 4], ...over });
  const cases: [unknown, RegExp][] = [
    [[x({ datatype: "FP64" }), ids], /input x: datatype FP64, the model takes FP32/],
    [[x({ datatype: "NOPE" }), ids], /input x: datatype another/],
    [[x({ shape: [4] }), ids], /input x: rank 1/],
    [[x({ shape: [1, 5], data: [1, 2, 3, 4, 5] }), ids], /dimension 1 is 5/],
    [[x({ data: [1, 2, 3] }), ids], /3 elements for a shape of 4/],
    [[x({ data: [1, 2, 3, 4, CANARY] }), ids], /more elements than its shape/],
    [[x({ data: [1, 2, "3", 4] }), ids], /finite numbers/],
    [[x({ data: [[[1, 2, 3, 4]]] }), ids], /nested deeper/],
    [[x({}), { ...ids, data: [1, 2.5] }], /integers/],
    [[x({}), { ...ids, data: [1, 2 ** 60] }], /integers/],
    [[x({})], /input ids is missing/],
    [[x({}), ids, { name: `unknown-${CANARY}`, shape: [1], datatype: "FP32", data: [1] }], /names no input/],
    [[x({}), x({}), ids], /given twice/],
    [[x({ extra: CANARY }), ids], /unknown member/],
    [[], /non-empty/],
  ];
  for (const [inputs, message] of cases) {
    assert.throws(
      () => checkInputs(inputs, specs),
      (e: unknown) => {
        assert.ok(e instanceof TensorError, String(e));
        assert.match(e.message, message);
        assert.ok(!e.message.includes(String(CANARY)), "a request value is in the message");
        return true;
      },
    );
  }
  assert.throws(
    () => checkInputs([x({ shape: [1000, 4], data: new Array(4000).fill(0) }), ids], specs, { maxElements: 100 }),
    /more than 100 elements/,
  );
});

test("flat and nested data are the same tensor (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 24, maxLength: 24 }),
      (batch, pool) => {
        const rows = Array.from({ length: batch }, (_, i) => pool.slice((i * 4) % 20, ((i * 4) % 20) + 4));
        const specs: TensorSpec[] = [{ name: "x", datatype: "FP32", shape: [-1, 4] }];
        const flat = checkInputs([{ name: "x", shape: [batch, 4], datatype: "FP32", data: rows.flat() }], specs);
        const nested = checkInputs([{ name: "x", shape: [batch, 4], datatype: "FP32", data: rows }], specs);
        assert.deepEqual(Array.from(flat[0]!.data as Float32Array), Array.from(nested[0]!.data as Float32Array));
      },
    ),
  );
});

test("bytes that are not an ONNX model, and a model needing external data, are refused at load", async () => {
  const engine = await OnnxEngine.create();
  try {
    for (const bytes of [new TextEncoder().encode("not a model"), new Uint8Array(0)]) {
      await assert.rejects(
        engine.load("junk", bytes),
        (e: unknown) => e instanceof OnnxEngineError && e.code === "bad-model",
      );
    }
    const external = onnxModel({
      name: "external",
      inputs: [{ name: "x", elemType: ONNX_TYPE.FLOAT, shape: [2] }],
      outputs: [{ name: "y", elemType: ONNX_TYPE.FLOAT, shape: [2] }],
      initializers: [{ name: "w", dims: [2], externalLocation: "weights.bin" }],
      nodes: [{ op: "Add", inputs: ["x", "w"], outputs: ["y"] }],
    });
    await assert.rejects(
      engine.load("external", external),
      (e: unknown) => e instanceof OnnxEngineError && e.code === "bad-model",
    );
    await assert.rejects(
      engine.load("../evil", mlp({ inputs: 1, hidden: 1, outputs: 1 }).bytes),
      (e: unknown) => e instanceof OnnxEngineError && e.code === "bad-name",
    );
    assert.deepEqual(engine.models(), []);
  } finally {
    await engine.close();
  }
});

test("a convolutional classifier with a residual block runs as its reference forward pass", async () => {
  const model = convClassifier({ size: 8 });
  const engine = await OnnxEngine.create();
  try {
    const info = await engine.load("conv", model.bytes);
    assert.deepEqual(info.inputs, [{ name: "x", datatype: "FP32", shape: [-1, 3, 8, 8] }]);
    const images = [weights(3 * 64, 21), weights(3 * 64, 22)];
    const result = await engine.infer("conv", [
      { name: "x", shape: [2, 3, 8, 8], datatype: "FP32", data: images.flatMap((i) => Array.from(i)) },
    ]);
    const got = Array.from(result.outputs[0]!.raw as Float32Array);
    const want = images.flatMap((i) => model.forward(i));
    assert.ok(
      got.every((v, i) => Math.abs(v - want[i]!) < 1e-4),
      `${got.slice(0, 3)} vs ${want.slice(0, 3)}`,
    );
  } finally {
    await engine.close();
  }
});
