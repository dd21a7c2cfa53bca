/**
 * The engine of a custodial deployment, which comes and goes with its lease
 * (custody/governor.ts): the HTTP handler holds this one object, and the
 * model's engine is attached after each release and detached when the lease
 * ends. Detached, every call fails as closed (503) — the meter refuses
 * first with `model_unavailable`, this is for requests admitted just before.
 */
import {
  type ChatRequest,
  type CompletionRequest,
  type EmbeddingRequest,
  type EmbeddingResult,
  type Engine,
  EngineError,
  type Generation,
  type ModelInfo,
} from "../engine/types.js";

/** An engine that may be absent. */
export class SwitchableEngine implements Engine {
  readonly kind: Engine["kind"];
  readonly #models: readonly ModelInfo[];
  #current: Engine | undefined;

  constructor(first: Engine) {
    this.kind = first.kind;
    // The list is the measured model's, whether or not it is loaded now.
    this.#models = first.models();
    this.#current = first;
  }

  get attached(): boolean {
    return this.#current !== undefined;
  }

  attach(engine: Engine): void {
    this.#current = engine;
  }

  /** Detach and return the engine (the caller closes it). */
  detach(): Engine | undefined {
    const engine = this.#current;
    this.#current = undefined;
    return engine;
  }

  #engine(): Engine {
    if (!this.#current) throw new EngineError("closed", "the model is not loaded: its lease ended");
    return this.#current;
  }

  models(): readonly ModelInfo[] {
    return this.#models;
  }

  chat(request: ChatRequest): Promise<Generation> {
    return this.#engine().chat(request);
  }

  complete(request: CompletionRequest): Promise<Generation> {
    return this.#engine().complete(request);
  }

  embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    return this.#engine().embed(request);
  }

  async close(): Promise<void> {
    await this.detach()?.close();
  }
}
