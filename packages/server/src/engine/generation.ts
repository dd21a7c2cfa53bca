/**
 * The `Generation` both engines return: a producer (the decode loop, or the
 * upstream SSE reader) pushes text chunks into a buffer as they are decoded,
 * independent of how fast the consumer reads, so a slow client never holds a
 * llama.cpp sequence longer than the generation itself takes. The consumer
 * iterates the chunks once; breaking out of the iteration (or aborting the
 * request's signal) cancels the producer.
 */
import { EngineError, type Generation, type GenerationResult } from "./types.js";

/** The producer's side of a {@link Generation}. */
export interface GenerationSink {
  /** Append a text chunk (empty chunks are dropped). */
  push(text: string): void;
  /** The generation ended normally. */
  end(result: GenerationResult): void;
  /** The generation failed; iteration throws `error`, `result` rejects with it. */
  fail(error: EngineError): void;
  /** Aborted when the consumer stops iterating early or the request's signal aborts. */
  readonly cancelled: AbortSignal;
}

/** A {@link Generation} and the sink that feeds it. */
export interface GenerationPair {
  readonly generation: Generation;
  readonly sink: GenerationSink;
}

/** The error iteration throws after the request's signal aborted or the consumer left. */
export function abortedError(cause?: unknown): EngineError {
  return new EngineError("aborted", "the request was aborted", cause === undefined ? undefined : { cause });
}

/**
 * Create a generation bound to `signal` (the request's). Iterating it yields
 * the pushed chunks in order; it throws EngineError "aborted" once `signal`
 * aborts. `result` resolves on `end`, rejects on `fail` or cancellation; it is
 * pre-handled so a consumer that only iterates causes no unhandled rejection.
 *
 * @example
 * const { generation, sink } = createGeneration(request.signal);
 * void produce(sink); // pushes chunks, then sink.end({...})
 * return generation;
 */
export function createGeneration(signal: AbortSignal): GenerationPair {
  const chunks: string[] = [];
  const cancel = new AbortController();
  let settled: { ok: true; result: GenerationResult } | { ok: false; error: EngineError } | undefined;
  let wake: (() => void) | undefined;
  let resolveResult!: (r: GenerationResult) => void;
  let rejectResult!: (e: EngineError) => void;
  const result = new Promise<GenerationResult>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  result.catch(() => {});

  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const settle = (outcome: NonNullable<typeof settled>): void => {
    if (settled !== undefined) return;
    settled = outcome;
    if (outcome.ok) resolveResult(outcome.result);
    else rejectResult(outcome.error);
    notify();
  };
  const onAbort = (): void => {
    cancel.abort();
    settle({ ok: false, error: abortedError() });
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });

  const sink: GenerationSink = {
    push(text) {
      if (settled !== undefined || text.length === 0) return;
      chunks.push(text);
      notify();
    },
    end(r) {
      signal.removeEventListener("abort", onAbort);
      settle({ ok: true, result: r });
    },
    fail(error) {
      signal.removeEventListener("abort", onAbort);
      settle({ ok: false, error });
    },
    cancelled: cancel.signal,
  };

  let iterating = false;
  const generation: Generation = {
    result,
    [Symbol.asyncIterator](): AsyncIterator<string> {
      if (iterating) throw new TypeError("a Generation can be iterated only once");
      iterating = true;
      let finished = false;
      const stop = (): void => {
        finished = true;
        if (settled === undefined) {
          cancel.abort();
          settle({ ok: false, error: abortedError() });
        }
      };
      return {
        async next(): Promise<IteratorResult<string>> {
          for (;;) {
            if (finished) return { done: true, value: undefined };
            if (signal.aborted) {
              stop();
              throw abortedError(signal.reason);
            }
            const chunk = chunks.shift();
            if (chunk !== undefined) return { done: false, value: chunk };
            if (settled !== undefined) {
              finished = true;
              if (settled.ok) return { done: true, value: undefined };
              throw settled.error;
            }
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
          }
        },
        async return(): Promise<IteratorResult<string>> {
          stop();
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { generation, sink };
}
