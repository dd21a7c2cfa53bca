/**
 * A strict reader of NumPy's `.npy` format (numpy.lib.format, versions 1.0,
 * 2.0 and 3.0), for `veritee infer --input NAME=@FILE.npy`: the magic, the
 * version, a header that is exactly a Python dict literal of `descr`,
 * `fortran_order` (False only) and `shape`, and then exactly the data its
 * shape and dtype say — nothing less, nothing more. Little-endian (or
 * single-byte) dtypes of the protocol's numeric types only.
 */
import type { InferInput, TensorDatatype, TypedTensorData } from "@veritee/client/node";
import { CliError } from "./cli-error.js";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** The dtypes read, as `descr` writes them, and their protocol datatype and array. */
const DTYPES: Readonly<
  Record<string, { datatype: TensorDatatype; Make: { new (buffer: ArrayBuffer): TypedTensorData } }>
> = {
  "<f4": { datatype: "FP32", Make: Float32Array },
  "<f8": { datatype: "FP64", Make: Float64Array },
  "|i1": { datatype: "INT8", Make: Int8Array },
  "<i2": { datatype: "INT16", Make: Int16Array },
  "<i4": { datatype: "INT32", Make: Int32Array },
  "<i8": { datatype: "INT64", Make: BigInt64Array },
  "|u1": { datatype: "UINT8", Make: Uint8Array },
  "<u2": { datatype: "UINT16", Make: Uint16Array },
  "<u4": { datatype: "UINT32", Make: Uint32Array },
  "<u8": { datatype: "UINT64", Make: BigUint64Array },
  "|b1": { datatype: "BOOL", Make: Uint8Array },
};

const HEADER =
  /^\{'descr': '([<|][fiub][1248])', 'fortran_order': False, 'shape': \(((?:\d{1,10}, ?)*\d{0,10}),?\), \} *\n$/;

function bad(file: string, why: string): CliError {
  return new CliError("bad-argument", `${file}: not a .npy file this reads (${why})`);
}

/**
 * Decode a `.npy` file's bytes as the tensor `name`.
 *
 * @throws CliError `bad-argument` naming what is wrong.
 */
export function decodeNpy(bytes: Uint8Array, name: string, file: string): InferInput {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad(file, "no NUMPY magic");
  const major = bytes[6]!;
  if (major < 1 || major > 3 || bytes[7] !== 0) throw bad(file, `version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw bad(file, "truncated header");
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lengthBytes;
  if (start + headerLength > bytes.length) throw bad(file, "truncated header");
  const header = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(start, start + headerLength));
  const match = HEADER.exec(header);
  if (!match) throw bad(file, "a header other than {'descr', 'fortran_order': False, 'shape'}");
  const dtype = DTYPES[match[1]!];
  if (!dtype) throw bad(file, `dtype ${match[1]}`);
  const shape = match[2]!
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d !== "")
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = bytes.subarray(start + headerLength);
  const itemSize = Number(match[1]!.slice(2));
  if (!Number.isSafeInteger(count * itemSize) || data.length !== count * itemSize) {
    throw bad(file, `${data.length} data bytes for a shape of ${count} elements`);
  }
  const copy = new ArrayBuffer(data.length);
  new Uint8Array(copy).set(data);
  const typed = new dtype.Make(copy);
  if (dtype.datatype === "BOOL" && (typed as Uint8Array).some((b) => b > 1))
    throw bad(file, "BOOL bytes other than 0 and 1");
  return { name, datatype: dtype.datatype, shape, data: typed };
}
