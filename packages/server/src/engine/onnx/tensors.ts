/**
 * Tensors of the Open Inference Protocol (KServe v2, "Inference Request
 * JSON Object"): the datatypes, and the strict check of a request's input
 * tensors against the model's metadata — datatype, rank, each fixed
 * dimension, element count, each element's type and range, missing and
 * unknown inputs, and size bounds. A refusal names the model's input (a
 * name the model defines), never a value of the request nor a name it made
 * up: nothing of the caller's data reaches an error or a log.
 */

/** The v2 protocol's tensor datatypes this server serves (BYTES, FP16 and BF16 are not taken as inputs). */
export const DATATYPES = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP32",
  "FP64",
] as const;
export type Datatype = (typeof DATATYPES)[number];

/** onnxruntime's tensor type names and the v2 datatypes they are. */
const FROM_ORT: Readonly<Record<string, Datatype>> = Object.freeze({
  bool: "BOOL",
  uint8: "UINT8",
  uint16: "UINT16",
  uint32: "UINT32",
  uint64: "UINT64",
  int8: "INT8",
  int16: "INT16",
  int32: "INT32",
  int64: "INT64",
  float32: "FP32",
  float64: "FP64",
});

/** The v2 datatype of an onnxruntime tensor type, or undefined for one this server does not serve. */
export function datatypeOf(ortType: string): Datatype | undefined {
  return FROM_ORT[ortType];
}

/** The onnxruntime type of a v2 datatype. */
export function ortTypeOf(datatype: Datatype): string {
  return Object.entries(FROM_ORT).find(([, d]) => d === datatype)![0];
}

/** A model input or output as the metadata endpoint describes it: -1 for a dimension of any size. */
export interface TensorSpec {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
}

/** A checked input tensor, its data in the typed array onnxruntime takes. */
export interface InputTensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: TypedData;
}

export type TypedData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** Bounds on what one request may carry. */
export interface TensorLimits {
  /** Most elements of all inputs together (default 16 Mi). */
  readonly maxElements?: number;
  /** Most dimensions of one tensor (default 8). */
  readonly maxRank?: number;
}

/** A request tensor that does not fit the model: the message names the model's input, never the request's data. */
export class TensorError extends Error {
  constructor(
    message: string,
    /** The model's input at fault, when one is. */
    readonly input: string | undefined,
  ) {
    super(message);
  }
}

const INTEGER_RANGE: Readonly<Partial<Record<Datatype, readonly [number, number]>>> = Object.freeze({
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
});

function allocate(datatype: Datatype, n: number): TypedData {
  switch (datatype) {
    case "FP32":
      return new Float32Array(n);
    case "FP64":
      return new Float64Array(n);
    case "INT8":
      return new Int8Array(n);
    case "INT16":
      return new Int16Array(n);
    case "INT32":
      return new Int32Array(n);
    case "INT64":
      return new BigInt64Array(n);
    case "UINT8":
    case "BOOL":
      return new Uint8Array(n);
    case "UINT16":
      return new Uint16Array(n);
    case "UINT32":
      return new Uint32Array(n);
    case "UINT64":
      return new BigUint64Array(n);
  }
}

/** Bytes per element of each datatype in the binary tensor extension (little-endian; BOOL one byte). */
export const ELEMENT_BYTES: Readonly<Record<Datatype, number>> = Object.freeze({
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
});

/** A tensor's data sent in the binary extension: its raw little-endian bytes. */
export class BinaryData {
  constructor(readonly bytes: Uint8Array) {}
}

/** Reinterpret raw little-endian bytes as `spec`'s typed array (copied: the body's bytes need not be aligned). */
function fromBinary(spec: TensorSpec, binary: BinaryData, count: number): TypedData {
  const size = ELEMENT_BYTES[spec.datatype];
  if (binary.bytes.length !== count * size) {
    throw new TensorError(
      `input ${spec.name}: ${binary.bytes.length} bytes of binary data for ${count} ${spec.datatype} elements`,
      spec.name,
    );
  }
  const out = allocate(spec.datatype, count);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(binary.bytes);
  if (spec.datatype === "BOOL" && (out as Uint8Array).some((b) => b > 1)) {
    throw new TensorError(`input ${spec.name}: BOOL bytes must be 0 or 1`, spec.name);
  }
  return out;
}

/** Copy `data` (flat or nested as the shape, row-major) into a typed array, checking every element. */
function fill(spec: TensorSpec, data: unknown, count: number): TypedData {
  if (data instanceof BinaryData) return fromBinary(spec, data, count);
  const out = allocate(spec.datatype, count);
  let at = 0;
  const range = INTEGER_RANGE[spec.datatype];
  const bad = (why: string) => new TensorError(`input ${spec.name}: ${why}`, spec.name);
  const put = (value: unknown) => {
    if (at >= count) throw bad(`more elements than its shape holds (${count})`);
    if (spec.datatype === "BOOL") {
      if (typeof value !== "boolean") throw bad("BOOL elements must be true or false");
      (out as Uint8Array)[at++] = value ? 1 : 0;
      return;
    }
    if (typeof value !== "number" || !Number.isFinite(value))
      throw bad(`${spec.datatype} elements must be finite numbers`);
    if (range) {
      if (!Number.isInteger(value) || value < range[0] || value > range[1]) {
        throw bad(`${spec.datatype} elements must be integers in ${range[0]}..${range[1]}`);
      }
      if (out instanceof BigInt64Array || out instanceof BigUint64Array) out[at++] = BigInt(value);
      else (out as Int32Array)[at++] = value;
      return;
    }
    (out as Float32Array)[at++] = value;
  };
  // Nesting deeper than the rank is refused, so the recursion on caller data is bounded (at most 9 deep).
  // An array inside the data at depth d stands for dimension d: below the last dimension only elements remain.
  const walk = (value: unknown, depth: number) => {
    if (Array.isArray(value)) {
      if (depth >= spec.shape.length) throw bad("its data is nested deeper than its shape");
      for (const v of value) walk(v, depth + 1);
    } else put(value);
  };
  if (!Array.isArray(data)) throw bad("data must be an array");
  for (const v of data) walk(v, 1);
  if (at !== count) throw bad(`${at} elements for a shape of ${count}`);
  return out;
}

/**
 * Check a request's `inputs` against the model's input specs and convert
 * them to typed arrays.
 *
 * @throws TensorError naming the model's input at fault.
 */
export function checkInputs(inputs: unknown, specs: readonly TensorSpec[], limits: TensorLimits = {}): InputTensor[] {
  const maxElements = limits.maxElements ?? 16 * 1024 * 1024;
  const maxRank = limits.maxRank ?? 8;
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw new TensorError("inputs must be a non-empty array", undefined);
  const byName = new Map(specs.map((s) => [s.name, s]));
  const seen = new Set<string>();
  const out: InputTensor[] = [];
  let total = 0;
  for (const item of inputs) {
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw new TensorError("each input must be an object with name, shape, datatype and data", undefined);
    }
    const t = item as Record<string, unknown>;
    const spec = typeof t.name === "string" ? byName.get(t.name) : undefined;
    // The request's own name is not echoed: it could be anything.
    if (!spec) throw new TensorError("an input names no input of the model", undefined);
    if (seen.has(spec.name)) throw new TensorError(`input ${spec.name} is given twice`, spec.name);
    seen.add(spec.name);
    for (const key of Object.keys(t)) {
      if (!["name", "shape", "datatype", "data", "parameters"].includes(key)) {
        throw new TensorError(`input ${spec.name}: unknown member`, spec.name);
      }
    }
    if (t.datatype !== spec.datatype) {
      const given =
        typeof t.datatype === "string" && (DATATYPES as readonly string[]).includes(t.datatype)
          ? t.datatype
          : "another";
      throw new TensorError(`input ${spec.name}: datatype ${given}, the model takes ${spec.datatype}`, spec.name);
    }
    const shape = t.shape;
    if (!Array.isArray(shape) || shape.length > maxRank || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new TensorError(`input ${spec.name}: shape must be at most ${maxRank} non-negative integers`, spec.name);
    }
    if (shape.length !== spec.shape.length) {
      throw new TensorError(
        `input ${spec.name}: rank ${shape.length}, the model takes ${spec.shape.length}`,
        spec.name,
      );
    }
    spec.shape.forEach((d, i) => {
      if (d >= 0 && shape[i] !== d) {
        throw new TensorError(`input ${spec.name}: dimension ${i} is ${shape[i]}, the model takes ${d}`, spec.name);
      }
    });
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    total += count;
    if (total > maxElements) throw new TensorError(`the inputs hold more than ${maxElements} elements`, spec.name);
    out.push({ name: spec.name, datatype: spec.datatype, shape: shape as number[], data: fill(spec, t.data, count) });
  }
  for (const spec of specs) {
    if (!seen.has(spec.name)) throw new TensorError(`input ${spec.name} is missing`, spec.name);
  }
  return out;
}

/** An output tensor's raw little-endian bytes, for the binary extension. */
export function outputBytes(data: TypedData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** An output tensor as the v2 JSON response carries it (64-bit integers as numbers when they are safe). */
export function outputJson(name: string, datatype: Datatype, shape: readonly number[], data: TypedData) {
  const values =
    data instanceof BigInt64Array || data instanceof BigUint64Array
      ? Array.from(data, (v) => {
          const n = Number(v);
          if (!Number.isSafeInteger(n)) throw new TensorError(`output ${name}: a value exceeds 2^53`, undefined);
          return n;
        })
      : datatype === "BOOL"
        ? Array.from(data as Uint8Array, (v) => v !== 0)
        : Array.from(data as Float32Array);
  return { name, datatype, shape: [...shape], data: values };
}
