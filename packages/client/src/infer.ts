/**
 * `session.infer(model, inputs)`: one inference on an attested server's
 * ONNX model over the Open Inference Protocol (KServe v2), through the
 * session's sealed channel like every other request. Typed arrays travel as
 * the protocol's binary tensors (little-endian bytes after a JSON header:
 * no text encoding of every number), plain arrays as JSON; outputs come
 * back as typed arrays either way. Browser-safe: no Node API.
 */
import { ClientError } from "./errors.js";

/** The protocol's datatypes this client sends and reads. */
export type TensorDatatype =
  | "BOOL"
  | "UINT8"
  | "UINT16"
  | "UINT32"
  | "UINT64"
  | "INT8"
  | "INT16"
  | "INT32"
  | "INT64"
  | "FP32"
  | "FP64";

export type TypedTensorData =
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

/** An input tensor: a typed array (sent binary) or a flat or nested array (sent as JSON). */
export interface InferInput {
  readonly name: string;
  readonly datatype: TensorDatatype;
  readonly shape: readonly number[];
  readonly data: TypedTensorData | readonly unknown[];
}

/** An output tensor, its data as the typed array of its datatype (BOOL as 0/1 bytes). */
export interface InferOutput {
  readonly name: string;
  readonly datatype: TensorDatatype;
  readonly shape: readonly number[];
  readonly data: TypedTensorData;
}

const ARRAYS: Readonly<Record<TensorDatatype, { new (n: number): TypedTensorData; BYTES_PER_ELEMENT: number }>> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

const HEADER_LENGTH = "inference-header-content-length";

function isTyped(data: unknown): data is TypedTensorData {
  return ArrayBuffer.isView(data) && !(data instanceof DataView);
}

/** An output's JSON data as its typed array. */
function typedFrom(datatype: TensorDatatype, data: unknown): TypedTensorData {
  const Make = ARRAYS[datatype];
  if (!Make || !Array.isArray(data)) throw new ClientError("request-failed", "the server's output is malformed");
  const out = new Make(data.length);
  data.forEach((v, i) => {
    if (out instanceof BigInt64Array || out instanceof BigUint64Array) out[i] = BigInt(v as number);
    else (out as Float32Array)[i] = typeof v === "boolean" ? (v ? 1 : 0) : (v as number);
  });
  return out;
}

/** An output's binary bytes as its typed array (copied: the bytes need not be aligned). */
function typedFromBytes(datatype: TensorDatatype, bytes: Uint8Array): TypedTensorData {
  const Make = ARRAYS[datatype];
  if (!Make || bytes.length % Make.BYTES_PER_ELEMENT !== 0) {
    throw new ClientError("request-failed", "the server's binary output is malformed");
  }
  const out = new Make(bytes.length / Make.BYTES_PER_ELEMENT);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/**
 * Run `model` on `inputs` at `baseURL`'s server with `fetch` (the session's).
 *
 * @throws ClientError `request-failed` with the server's status and its error (which names the model's input at fault).
 */
export async function inferWith(
  fetch: (input: string, init?: RequestInit) => Promise<Response>,
  baseURL: string,
  model: string,
  inputs: readonly InferInput[],
  options: { readonly signal?: AbortSignal } = {},
): Promise<InferOutput[]> {
  const url = `${baseURL.replace(/\/v1\/?$/, "")}/v2/models/${encodeURIComponent(model)}/infer`;
  const binary = inputs.length > 0 && inputs.every((i) => isTyped(i.data));
  let init: RequestInit;
  if (binary) {
    const blobs = inputs.map((i) => {
      const d = i.data as TypedTensorData;
      return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    });
    const header = new TextEncoder().encode(
      JSON.stringify({
        inputs: inputs.map((i, k) => ({
          name: i.name,
          datatype: i.datatype,
          shape: [...i.shape],
          parameters: { binary_data_size: blobs[k]!.length },
        })),
        parameters: { binary_data_output: true },
      }),
    );
    const body = new Uint8Array(header.length + blobs.reduce((n, b) => n + b.length, 0));
    body.set(header);
    let at = header.length;
    for (const b of blobs) {
      body.set(b, at);
      at += b.length;
    }
    init = {
      method: "POST",
      headers: { "content-type": "application/octet-stream", [HEADER_LENGTH]: String(header.length) },
      body,
    };
  } else {
    init = {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        inputs: inputs.map((i) => ({
          name: i.name,
          datatype: i.datatype,
          shape: [...i.shape],
          data: isTyped(i.data) ? Array.from(i.data as ArrayLike<number>, Number) : i.data,
        })),
      }),
    };
  }
  if (options.signal) init.signal = options.signal;
  const response = await fetch(url, init);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const headerLength = response.headers.get(HEADER_LENGTH);
  const split = headerLength !== null && /^\d{1,10}$/.test(headerLength) ? Number(headerLength) : bytes.length;
  if (split > bytes.length) throw new ClientError("request-failed", "the server's binary answer is malformed");
  let json: { error?: unknown; outputs?: unknown };
  try {
    json = JSON.parse(new TextDecoder().decode(bytes.subarray(0, split)));
  } catch {
    throw new ClientError("request-failed", `the server answered HTTP ${response.status} without JSON`, {
      status: response.status,
    });
  }
  if (!response.ok) {
    const error = typeof json.error === "string" ? json.error.slice(0, 300) : `HTTP ${response.status}`;
    throw new ClientError("request-failed", `the server refused the inference: ${error}`, { status: response.status });
  }
  if (!Array.isArray(json.outputs)) throw new ClientError("request-failed", "the server's answer has no outputs");
  let at = split;
  return json.outputs.map(
    (o: {
      name?: unknown;
      datatype?: unknown;
      shape?: unknown;
      data?: unknown;
      parameters?: { binary_data_size?: unknown };
    }) => {
      const datatype = o.datatype as TensorDatatype;
      const size = o.parameters?.binary_data_size;
      let data: TypedTensorData;
      if (typeof size === "number") {
        if (!Number.isSafeInteger(size) || at + size > bytes.length) {
          throw new ClientError("request-failed", "the server's binary output is malformed");
        }
        data = typedFromBytes(datatype, bytes.subarray(at, at + size));
        at += size;
      } else data = typedFrom(datatype, o.data);
      return { name: String(o.name), datatype, shape: Array.isArray(o.shape) ? (o.shape as number[]) : [], data };
    },
  );
}
