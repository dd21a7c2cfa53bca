/**
 * Opening sealed responses on the client: incrementally
 * ({@link ResponseDecoder}, {@link openResponseStream}) or whole
 * ({@link openResponse}). A response is the response nonce, then frames
 * (frames.ts): the first carries the sealed head (status and header fields),
 * the others the body, the last one flagged final.
 */
import { MalformedError } from "@veritee/core";
import { concat } from "./bytes.js";
import { ChannelError } from "./errors.js";
import { FrameOpener } from "./frames.js";
import { decodeResponseHead, type ResponseHead } from "./head.js";
import { type RequestContext, takeContext } from "./request.js";
import { deriveResponseKeys, responseSecretSize } from "./response-keys.js";

/** A whole opened response. */
export interface OpenedResponse extends ResponseHead {
  readonly body: Uint8Array<ArrayBuffer>;
}

/**
 * Opens one sealed response as its bytes arrive, in any chunking. The head
 * is available once the first frame has been authenticated; body chunks are
 * returned only after their frame authenticated. Any failure is final.
 */
export class ResponseDecoder {
  readonly #state: { suite: Parameters<typeof deriveResponseKeys>[0]; enc: Uint8Array; secret: Uint8Array };
  readonly #nonceSize: number;
  #nonce: Uint8Array[] = [];
  #nonceLength = 0;
  #frames: FrameOpener | undefined;
  #head: ResponseHead | undefined;
  #failure: ChannelError | undefined;
  #busy = false;

  /**
   * @throws ChannelError `closed` when the context already opened a response.
   */
  constructor(context: RequestContext) {
    this.#state = takeContext(context);
    this.#nonceSize = responseSecretSize(this.#state.suite);
  }

  /** The authenticated head, once the first frame has arrived. */
  get head(): ResponseHead | undefined {
    return this.#head;
  }

  /** Whether the final frame was opened. */
  get finished(): boolean {
    return this.#frames?.finished === true;
  }

  #fail(error: unknown): never {
    this.#failure =
      error instanceof ChannelError
        ? error
        : new ChannelError("bad-framing", "the response head does not decode", { cause: error });
    throw this.#failure;
  }

  /**
   * Add response bytes; returns the body chunks they complete (the head,
   * when it arrives, is in {@link head}). Await each call before the next.
   *
   * @throws ChannelError (`bad-framing`, `frame-out-of-order`, `tampered`, `sequence-overflow`, `closed`).
   */
  async push(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>[]> {
    if (this.#failure) throw this.#failure;
    if (this.#busy) throw new ChannelError("closed", "push called before the previous push settled");
    this.#busy = true;
    try {
      let rest = bytes;
      if (this.#frames === undefined) {
        const want = this.#nonceSize - this.#nonceLength;
        this.#nonce.push(rest.slice(0, want));
        this.#nonceLength += Math.min(want, rest.length);
        rest = rest.subarray(Math.min(want, rest.length));
        if (this.#nonceLength < this.#nonceSize) return [];
        const nonce = concat(...this.#nonce);
        this.#nonce = [];
        const s = this.#state;
        this.#frames = new FrameOpener(await deriveResponseKeys(s.suite, s.secret, s.enc, nonce));
      }
      const frames = await this.#frames.push(rest);
      const out: Uint8Array<ArrayBuffer>[] = [];
      for (const frame of frames) {
        if (frame.seq === 0) {
          if (frame.final) this.#fail(new ChannelError("bad-framing", "the head frame cannot be the final frame"));
          try {
            this.#head = decodeResponseHead(frame.plaintext);
          } catch (e) {
            if (e instanceof MalformedError) this.#fail(e);
            throw e;
          }
        } else if (frame.plaintext.length > 0) {
          out.push(frame.plaintext);
        }
      }
      return out;
    } catch (e) {
      this.#fail(e);
    } finally {
      this.#busy = false;
    }
  }

  /**
   * The response ended.
   *
   * @throws ChannelError `truncated` without the final frame, or the earlier failure.
   */
  end(): void {
    if (this.#failure) throw this.#failure;
    if (this.#frames === undefined)
      this.#fail(new ChannelError("truncated", "the response ended before its first frame"));
    try {
      this.#frames.end();
    } catch (e) {
      this.#fail(e);
    }
  }
}

/**
 * A decoder for the response of `context` (usable once).
 *
 * @example
 * const decoder = createResponseDecoder(context);
 * for await (const bytes of response.body) for (const chunk of await decoder.push(bytes)) handle(chunk);
 * decoder.end();
 */
export function createResponseDecoder(context: RequestContext): ResponseDecoder {
  return new ResponseDecoder(context);
}

/**
 * Open a whole sealed response.
 *
 * @throws ChannelError for any framing, ordering, authentication or truncation failure.
 * @example
 * const { status, headers, body } = await openResponse(context, new Uint8Array(await response.arrayBuffer()));
 */
export async function openResponse(context: RequestContext, bytes: Uint8Array): Promise<OpenedResponse> {
  const decoder = new ResponseDecoder(context);
  const chunks = await decoder.push(bytes);
  decoder.end();
  const head = decoder.head!;
  return Object.freeze({ status: head.status, headers: head.headers, body: concat(...chunks) });
}

/** A response whose head has been authenticated, with its body still arriving. */
export interface OpenedResponseStream extends ResponseHead {
  /** The plaintext body; errors with a `ChannelError` on any failure, including truncation. */
  readonly body: ReadableStream<Uint8Array<ArrayBuffer>>;
}

/**
 * Open a sealed response stream: resolves once the head has been
 * authenticated, with a body stream that releases each chunk after its frame
 * authenticated and errors (with a `ChannelError`) on a bad, missing,
 * reordered or repeated frame, or when the stream ends without its final
 * frame. Cancelling the body cancels `source`.
 *
 * @throws ChannelError when the head cannot be authenticated.
 * @example
 * const opened = await openResponseStream(context, response.body!);
 * return new Response(opened.body, { status: opened.status, headers: opened.headers });
 */
export async function openResponseStream(
  context: RequestContext,
  source: ReadableStream<Uint8Array>,
): Promise<OpenedResponseStream> {
  const decoder = new ResponseDecoder(context);
  const reader = source.getReader();
  const early: Uint8Array<ArrayBuffer>[] = [];
  let done = false;
  const abandon = (reason: unknown) => {
    void reader.cancel(reason).catch(() => undefined);
  };
  try {
    while (decoder.head === undefined) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        decoder.end();
        break;
      }
      early.push(...(await decoder.push(next.value)));
    }
  } catch (e) {
    abandon(e);
    throw e;
  }
  const head = decoder.head!;
  const body = new ReadableStream<Uint8Array<ArrayBuffer>>({
    start(controller) {
      for (const chunk of early) controller.enqueue(chunk);
      if (done) controller.close();
    },
    async pull(controller) {
      try {
        for (;;) {
          const next = await reader.read();
          if (next.done) {
            decoder.end();
            controller.close();
            return;
          }
          // After the final frame the source must end: any further byte fails the decoder.
          const chunks = await decoder.push(next.value);
          for (const chunk of chunks) controller.enqueue(chunk);
          if (chunks.length > 0) return;
        }
      } catch (e) {
        abandon(e);
        controller.error(e);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return Object.freeze({ status: head.status, headers: head.headers, body });
}
