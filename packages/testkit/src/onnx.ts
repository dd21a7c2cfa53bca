/**
 * ONNX models built in tests, so nothing downloads: a small writer of the
 * ONNX protobuf messages (onnx/onnx.proto, IR version 8: ModelProto,
 * GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto) on
 * @bufbuild/protobuf's wire writer, and the models the engine is tested
 * with. Field numbers are the schema's; every tensor's data goes in
 * `raw_data` (little-endian), as exporters write it.
 */
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** TensorProto.DataType values used here. */
export const ONNX_TYPE = Object.freeze({ FLOAT: 1, INT64: 7, DOUBLE: 11, INT32: 6 });

/** A dimension: a fixed size, or a named symbolic one (e.g. the batch). */
export type Dim = number | string;

/** A graph input or output. */
export interface ValueInfo {
  readonly name: string;
  readonly elemType: number;
  readonly shape: readonly Dim[];
}

/** A constant tensor (an initializer, or an attribute's value). */
export interface Initializer {
  readonly name: string;
  readonly dims: readonly number[];
  /** FLOAT data (others via `raw`). */
  readonly data?: Float32Array;
  readonly elemType?: number;
  readonly raw?: Uint8Array;
  /** Mark the data as external (data_location EXTERNAL, external_data `location`): a model the server must refuse. */
  readonly externalLocation?: string;
}

/** An attribute: an int, a float, a list of ints, or a string. */
export type Attribute =
  | { readonly name: string; readonly int: number }
  | { readonly name: string; readonly float: number }
  | { readonly name: string; readonly ints: readonly number[] }
  | { readonly name: string; readonly string: string };

/** A node of the graph. */
export interface Node {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: readonly Attribute[];
  readonly domain?: string;
}

/** A model: one graph, one opset. */
export interface ModelSpec {
  readonly name: string;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly initializers: readonly Initializer[];
  readonly nodes: readonly Node[];
  /** The default domain's opset (default 17). */
  readonly opset?: number;
}

function message(w: BinaryWriter, field: number, write: (w: BinaryWriter) => void): void {
  w.tag(field, WireType.LengthDelimited).fork();
  write(w);
  w.join();
}

function tensor(w: BinaryWriter, t: Initializer): void {
  for (const d of t.dims) w.tag(1, WireType.Varint).int64(d);
  w.tag(2, WireType.Varint).int32(t.elemType ?? ONNX_TYPE.FLOAT);
  w.tag(8, WireType.LengthDelimited).string(t.name);
  if (t.externalLocation !== undefined) {
    message(w, 13, (e) => {
      e.tag(1, WireType.LengthDelimited).string("location");
      e.tag(2, WireType.LengthDelimited).string(t.externalLocation!);
    });
    w.tag(14, WireType.Varint).int32(1);
    return;
  }
  const raw = t.raw ?? new Uint8Array(t.data!.buffer, t.data!.byteOffset, t.data!.byteLength);
  w.tag(9, WireType.LengthDelimited).bytes(raw);
}

function valueInfo(w: BinaryWriter, v: ValueInfo): void {
  w.tag(1, WireType.LengthDelimited).string(v.name);
  message(w, 2, (type) =>
    message(type, 1, (t) => {
      t.tag(1, WireType.Varint).int32(v.elemType);
      message(t, 2, (shape) => {
        for (const d of v.shape) {
          message(shape, 1, (dim) => {
            if (typeof d === "number") dim.tag(1, WireType.Varint).int64(d);
            else dim.tag(2, WireType.LengthDelimited).string(d);
          });
        }
      });
    }),
  );
}

function attribute(w: BinaryWriter, a: Attribute): void {
  w.tag(1, WireType.LengthDelimited).string(a.name);
  if ("int" in a) {
    w.tag(3, WireType.Varint).int64(a.int);
    w.tag(20, WireType.Varint).int32(2);
  } else if ("float" in a) {
    w.tag(2, WireType.Bit32).float(a.float);
    w.tag(20, WireType.Varint).int32(1);
  } else if ("ints" in a) {
    for (const i of a.ints) w.tag(8, WireType.Varint).int64(i);
    w.tag(20, WireType.Varint).int32(7);
  } else {
    w.tag(4, WireType.LengthDelimited).bytes(new TextEncoder().encode(a.string));
    w.tag(20, WireType.Varint).int32(3);
  }
}

/** The ONNX file of `spec`. */
export function onnxModel(spec: ModelSpec): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).int64(8);
  w.tag(2, WireType.LengthDelimited).string("veritee-testkit");
  message(w, 7, (g) => {
    spec.nodes.forEach((n, i) => {
      message(g, 1, (node) => {
        for (const input of n.inputs) node.tag(1, WireType.LengthDelimited).string(input);
        for (const output of n.outputs) node.tag(2, WireType.LengthDelimited).string(output);
        node.tag(3, WireType.LengthDelimited).string(`${n.op.toLowerCase()}_${i}`);
        node.tag(4, WireType.LengthDelimited).string(n.op);
        for (const a of n.attributes ?? []) message(node, 5, (attr) => attribute(attr, a));
        if (n.domain !== undefined) node.tag(7, WireType.LengthDelimited).string(n.domain);
      });
    });
    g.tag(2, WireType.LengthDelimited).string(spec.name);
    for (const t of spec.initializers) message(g, 5, (m) => tensor(m, t));
    for (const v of spec.inputs) message(g, 11, (m) => valueInfo(m, v));
    for (const v of spec.outputs) message(g, 12, (m) => valueInfo(m, v));
  });
  message(w, 8, (o) => {
    o.tag(1, WireType.LengthDelimited).string("");
    o.tag(2, WireType.Varint).int64(spec.opset ?? 17);
  });
  return w.finish();
}

/** A deterministic pseudo-random vector (an LCG), for weights a test can recompute. */
export function weights(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 0x1_0000_0000 - 0.5) * 0.5;
  }
  return out;
}

/** An MLP: x [batch, inputs] → Gemm → Relu → Gemm → y [batch, outputs], with its weights. */
export function mlp(sizes: { inputs: number; hidden: number; outputs: number }, seed = 1) {
  const w1 = weights(sizes.inputs * sizes.hidden, seed);
  const b1 = weights(sizes.hidden, seed + 1);
  const w2 = weights(sizes.hidden * sizes.outputs, seed + 2);
  const b2 = weights(sizes.outputs, seed + 3);
  const bytes = onnxModel({
    name: "mlp",
    inputs: [{ name: "x", elemType: ONNX_TYPE.FLOAT, shape: ["batch", sizes.inputs] }],
    outputs: [{ name: "y", elemType: ONNX_TYPE.FLOAT, shape: ["batch", sizes.outputs] }],
    initializers: [
      { name: "w1", dims: [sizes.inputs, sizes.hidden], data: w1 },
      { name: "b1", dims: [sizes.hidden], data: b1 },
      { name: "w2", dims: [sizes.hidden, sizes.outputs], data: w2 },
      { name: "b2", dims: [sizes.outputs], data: b2 },
    ],
    nodes: [
      { op: "Gemm", inputs: ["x", "w1", "b1"], outputs: ["h"] },
      { op: "Relu", inputs: ["h"], outputs: ["hr"] },
      { op: "Gemm", inputs: ["hr", "w2", "b2"], outputs: ["y"] },
    ],
  });
  /** The reference forward pass, in float64 (compare within float32 tolerance). */
  const forward = (x: readonly number[]): number[] => {
    const h = Array.from({ length: sizes.hidden }, (_, j) => {
      let sum = b1[j]!;
      for (let i = 0; i < sizes.inputs; i++) sum += x[i]! * w1[i * sizes.hidden + j]!;
      return Math.max(0, sum);
    });
    return Array.from({ length: sizes.outputs }, (_, k) => {
      let sum = b2[k]!;
      for (let j = 0; j < sizes.hidden; j++) sum += h[j]! * w2[j * sizes.outputs + k]!;
      return sum;
    });
  };
  return { bytes, forward };
}

/** 2-D convolution, stride 1, zero padding `pad`, NCHW with N = 1: the reference for the classifier. */
function conv2d(
  x: Float64Array,
  c: number,
  h: number,
  w: number,
  weight: Float32Array,
  bias: Float32Array,
  out: number,
  k: number,
  pad: number,
): Float64Array {
  const y = new Float64Array(out * h * w);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let sum = bias[o]!;
        for (let ci = 0; ci < c; ci++) {
          for (let di = 0; di < k; di++) {
            for (let dj = 0; dj < k; dj++) {
              const ii = i + di - pad;
              const jj = j + dj - pad;
              if (ii < 0 || jj < 0 || ii >= h || jj >= w) continue;
              sum += x[ci * h * w + ii * w + jj]! * weight[((o * c + ci) * k + di) * k + dj]!;
            }
          }
        }
        y[o * h * w + i * w + j] = sum;
      }
    }
  }
  return y;
}

/**
 * A small convolutional image classifier with a ResNet-style block: x
 * [batch, 3, size, size] → Conv 3×3 → BatchNormalization → Relu → Conv 3×3 →
 * Add (the residual) → Relu → GlobalAveragePool → Flatten → Gemm → y
 * [batch, classes]; with its reference forward pass for one image.
 */
export function convClassifier(options: { size?: number; channels?: number; classes?: number; seed?: number } = {}) {
  const size = options.size ?? 16;
  const ch = options.channels ?? 8;
  const classes = options.classes ?? 10;
  const seed = options.seed ?? 5;
  const w1 = weights(ch * 3 * 9, seed);
  const b1 = weights(ch, seed + 1);
  const scale = weights(ch, seed + 2).map((v) => 1 + v);
  const shift = weights(ch, seed + 3);
  const mean = weights(ch, seed + 4);
  const variance = weights(ch, seed + 5).map((v) => 0.5 + Math.abs(v));
  const w2 = weights(ch * ch * 9, seed + 6);
  const b2 = weights(ch, seed + 7);
  const wf = weights(ch * classes, seed + 8);
  const bf = weights(classes, seed + 9);
  const eps = 1e-5;
  const bytes = onnxModel({
    name: "conv-classifier",
    inputs: [{ name: "x", elemType: ONNX_TYPE.FLOAT, shape: ["batch", 3, size, size] }],
    outputs: [{ name: "y", elemType: ONNX_TYPE.FLOAT, shape: ["batch", classes] }],
    initializers: [
      { name: "w1", dims: [ch, 3, 3, 3], data: w1 },
      { name: "b1", dims: [ch], data: b1 },
      { name: "scale", dims: [ch], data: scale },
      { name: "shift", dims: [ch], data: shift },
      { name: "mean", dims: [ch], data: mean },
      { name: "var", dims: [ch], data: variance },
      { name: "w2", dims: [ch, ch, 3, 3], data: w2 },
      { name: "b2", dims: [ch], data: b2 },
      { name: "wf", dims: [ch, classes], data: wf },
      { name: "bf", dims: [classes], data: bf },
    ],
    nodes: [
      { op: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c1"], attributes: [{ name: "pads", ints: [1, 1, 1, 1] }] },
      {
        op: "BatchNormalization",
        inputs: ["c1", "scale", "shift", "mean", "var"],
        outputs: ["n1"],
        attributes: [{ name: "epsilon", float: eps }],
      },
      { op: "Relu", inputs: ["n1"], outputs: ["r1"] },
      { op: "Conv", inputs: ["r1", "w2", "b2"], outputs: ["c2"], attributes: [{ name: "pads", ints: [1, 1, 1, 1] }] },
      { op: "Add", inputs: ["c2", "r1"], outputs: ["s"] },
      { op: "Relu", inputs: ["s"], outputs: ["r2"] },
      { op: "GlobalAveragePool", inputs: ["r2"], outputs: ["g"] },
      { op: "Flatten", inputs: ["g"], outputs: ["f"], attributes: [{ name: "axis", int: 1 }] },
      { op: "Gemm", inputs: ["f", "wf", "bf"], outputs: ["y"] },
    ],
  });
  /** The reference forward pass of one image (3 × size × size, row-major), in float64. */
  const forward = (image: ArrayLike<number>): number[] => {
    const area = size * size;
    const c1 = conv2d(Float64Array.from(image), 3, size, size, w1, b1, ch, 3, 1);
    const r1 = c1.map((v, i) => {
      const o = Math.floor(i / area);
      return Math.max(0, ((v - mean[o]!) / Math.sqrt(variance[o]! + eps)) * scale[o]! + shift[o]!);
    });
    const c2 = conv2d(r1, ch, size, size, w2, b2, ch, 3, 1);
    const r2 = c2.map((v, i) => Math.max(0, v + r1[i]!));
    const g = Array.from({ length: ch }, (_, o) => {
      let sum = 0;
      for (let i = 0; i < area; i++) sum += r2[o * area + i]!;
      return sum / area;
    });
    return Array.from({ length: classes }, (_, k) => {
      let sum = bf[k]!;
      for (let o = 0; o < ch; o++) sum += g[o]! * wf[o * classes + k]!;
      return sum;
    });
  };
  return { bytes, forward, inputShape: [3, size, size] as const };
}
