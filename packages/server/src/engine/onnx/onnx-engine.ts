/**
 * The ONNX engine (issue 13): models run by onnxruntime-node, CPU by default
 * (the execution providers are an option, so a GPU build can be named where
 * one exists). Each model is known by a name (the file's base name without
 * `.onnx`), its SHA-256 and its input and output specs, read from the
 * session's metadata; a model whose inputs or outputs are not tensors of a
 * datatype this server serves is refused at load. Inference checks every
 * input against the specs first (tensors.ts), so onnxruntime only ever sees
 * tensors of the model's own types and shapes.
 *
 * onnxruntime-node is imported only when an ONNX engine is made
 * ({@link OnnxEngine.create}): importing it maps its native libraries, which
 * a server of another engine neither measures nor may load.
 */
import { createHash } from "node:crypto";
import type * as Ort from "onnxruntime-node";
import {
  checkInputs,
  type Datatype,
  datatypeOf,
  ortTypeOf,
  type TensorLimits,
  type TensorSpec,
  type TypedData,
} from "./tensors.js";

/** A loaded model as the metadata endpoint describes it. */
export interface OnnxModelInfo {
  readonly name: string;
  /** SHA-256 of the model file, lower-case hex. */
  readonly sha256: string;
  readonly size: number;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** Why a model does not load, or a request does not run. */
export class OnnxEngineError extends Error {
  constructor(
    readonly code: "bad-model" | "unsupported-model" | "exists" | "not-found" | "bad-name",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A model name: the protocol puts it in URLs. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Options of {@link OnnxEngine}. */
export interface OnnxEngineOptions {
  /** onnxruntime execution providers, in order (default `["cpu"]`). */
  readonly executionProviders?: readonly string[];
  /** Threads per inference (default: onnxruntime's). */
  readonly intraOpThreads?: number;
}

type OrtModule = typeof Ort;

interface Loaded {
  readonly info: OnnxModelInfo;
  readonly session: Ort.InferenceSession;
}

function specsOf(metadata: readonly Ort.InferenceSession.ValueMetadata[], what: string): TensorSpec[] {
  return metadata.map((m) => {
    if (!m.isTensor) throw new OnnxEngineError("unsupported-model", `${what} ${m.name} is not a tensor`);
    const datatype = datatypeOf(m.type);
    if (!datatype)
      throw new OnnxEngineError(
        "unsupported-model",
        `${what} ${m.name} is of type ${m.type}, which this server does not serve`,
      );
    return { name: m.name, datatype, shape: m.shape.map((d) => (typeof d === "number" && d >= 0 ? d : -1)) };
  });
}

/** The ONNX models of one server. */
export class OnnxEngine {
  readonly #options: OnnxEngineOptions;
  readonly #ort: OrtModule;
  readonly #models = new Map<string, Loaded>();

  private constructor(ort: OrtModule, options: OnnxEngineOptions) {
    this.#ort = ort;
    this.#options = options;
  }

  /** Import onnxruntime-node (mapping its native libraries) and make an engine. */
  static async create(options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
    const loaded = (await import("onnxruntime-node")) as unknown as { default?: OrtModule } & OrtModule;
    return new OnnxEngine(loaded.default ?? loaded, options);
  }

  /**
   * Load `bytes` as model `name`.
   *
   * @throws OnnxEngineError `bad-name`, `exists`, `bad-model` (not an ONNX
   *   model onnxruntime can load), `unsupported-model`.
   */
  async load(name: string, bytes: Uint8Array): Promise<OnnxModelInfo> {
    if (!MODEL_NAME.test(name))
      throw new OnnxEngineError("bad-name", "a model name is 1-128 of A-Z a-z 0-9 . _ - (not starting with . _ -)");
    if (this.#models.has(name)) throw new OnnxEngineError("exists", `model ${name} is loaded`);
    let session: Ort.InferenceSession;
    try {
      session = await this.#ort.InferenceSession.create(bytes, {
        executionProviders: [
          ...(this.#options.executionProviders ?? ["cpu"]),
        ] as Ort.InferenceSession.ExecutionProviderConfig[],
        graphOptimizationLevel: "all",
        // Worker threads that spin after each run would take the cores the HTTP side (and, on a small machine,
        // the client) needs between runs.
        extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
        ...(this.#options.intraOpThreads ? { intraOpNumThreads: this.#options.intraOpThreads } : {}),
      });
    } catch (cause) {
      // onnxruntime's message may quote the model: a fixed text goes out.
      throw new OnnxEngineError("bad-model", `model ${name} is not an ONNX model onnxruntime can load`, { cause });
    }
    try {
      const info: OnnxModelInfo = Object.freeze({
        name,
        sha256: createHash("sha256").update(bytes).digest("hex"),
        size: bytes.length,
        inputs: specsOf(session.inputMetadata, "input"),
        outputs: specsOf(session.outputMetadata, "output"),
      });
      this.#models.set(name, { info, session });
      return info;
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  /** Unload `name`; false when it is not loaded. */
  async unload(name: string): Promise<boolean> {
    const loaded = this.#models.get(name);
    if (!loaded) return false;
    this.#models.delete(name);
    await loaded.session.release();
    return true;
  }

  models(): OnnxModelInfo[] {
    return [...this.#models.values()].map((m) => m.info);
  }

  model(name: string): OnnxModelInfo | undefined {
    return this.#models.get(name)?.info;
  }

  /**
   * Run `name` on the v2 request's `inputs` (checked against the model first).
   *
   * @throws OnnxEngineError `not-found`; TensorError for inputs that do not fit.
   */
  async infer(
    name: string,
    inputs: unknown,
    limits?: TensorLimits,
  ): Promise<{
    model_name: string;
    outputs: { name: string; datatype: Datatype; shape: number[]; raw: TypedData }[];
  }> {
    const loaded = this.#models.get(name);
    if (!loaded) throw new OnnxEngineError("not-found", "no such model");
    const checked = checkInputs(inputs, loaded.info.inputs, limits);
    const feeds: Record<string, Ort.Tensor> = {};
    for (const t of checked) {
      feeds[t.name] = new this.#ort.Tensor(ortTypeOf(t.datatype) as "float32", t.data as Float32Array, [...t.shape]);
    }
    const results = await loaded.session.run(feeds);
    return {
      model_name: name,
      outputs: loaded.info.outputs.map((spec) => {
        const tensor = results[spec.name] as Ort.Tensor;
        return { name: spec.name, datatype: spec.datatype, shape: [...tensor.dims], raw: tensor.data as TypedData };
      }),
    };
  }

  async close(): Promise<void> {
    for (const name of [...this.#models.keys()]) await this.unload(name);
  }
}
