/**
 * Sealing many requests to one attested key set (a client session's
 * channel): the same sealed requests as `sealRequest` (docs/CHANNEL.md), with
 * the next request's HPKE encapsulation prepared ahead of time.
 *
 * An encapsulation (RFC 9180 §5.1.1 SetupBaseS: a new ephemeral X25519 key,
 * the DH with the server's key, the key schedule over the fixed `info`)
 * does not depend on the request at all — only the AEAD seal and the AAD do.
 * So while a request is out, the sealer makes the next one's, and the next
 * request seals its body with it at once. Every encapsulation is still fresh
 * and used for exactly one request, then dropped; nothing is shared between
 * requests and the key set is fixed for the sealer's life.
 */
import type { SenderContext } from "@hpke/core";
import { ChannelError } from "./errors.js";
import {
  checkPlainRequest,
  encapsulate,
  type PlainRequest,
  planSeal,
  type SealedRequest,
  type SealOptions,
  type SealPlan,
  type SealTarget,
  sealWith,
} from "./request.js";

/** Runs `task` once the current I/O callbacks are done (after a request's bytes went out): setImmediate where there is one. */
// setImmediate is a Node global, absent from the browser typings this package compiles against.
const host = globalThis as { setImmediate?: (task: () => void) => unknown };
const later: (task: () => void) => void =
  typeof host.setImmediate === "function"
    ? (task) => {
        host.setImmediate?.(task);
      }
    : (task) => {
        globalThis.setTimeout(task, 0);
      };

const TOKEN: unique symbol = Symbol("RequestSealer");

/**
 * Seals requests to one target, one fresh HPKE encapsulation each, keeping
 * one encapsulation prepared in reserve. Made by {@link createRequestSealer}.
 */
export class RequestSealer {
  readonly #plan: SealPlan;
  #reserve: Promise<SenderContext> | undefined;
  #scheduled = false;
  #closed = false;

  /** Not for callers: use {@link createRequestSealer}. */
  constructor(token: typeof TOKEN, plan: SealPlan) {
    if (token !== TOKEN) throw new TypeError("RequestSealer is made by createRequestSealer");
    this.#plan = plan;
    this.#prepare();
  }

  /** The HPKE AEAD id of the suite this sealer uses. */
  get aeadId(): number {
    return this.#plan.suite.aeadId;
  }

  /**
   * Seal one request: exactly `sealRequest(target, request, options)`, with
   * the prepared encapsulation when there is one.
   *
   * @throws RangeError for a request outside the format (before an
   *   encapsulation is used); ChannelError `unsupported-suite` when the key
   *   does not import; ChannelError `closed` after {@link close}.
   */
  async seal(request: PlainRequest): Promise<SealedRequest> {
    if (this.#closed) throw new ChannelError("closed", "the request sealer is closed");
    const checked = checkPlainRequest(request);
    const sender = this.#reserve ?? encapsulate(this.#plan);
    // Taken: an encapsulation serves one request only.
    this.#reserve = undefined;
    this.#prepare();
    return sealWith(this.#plan, await sender, checked);
  }

  /** Drop the prepared encapsulation; later {@link seal} calls fail. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#reserve = undefined;
  }

  /** Make the next encapsulation once the current work (sending this request) is done. */
  #prepare(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    later(() => {
      this.#scheduled = false;
      if (this.#closed || this.#reserve !== undefined) return;
      const reserve = encapsulate(this.#plan);
      // A failure (a key that does not import) is reported by the request that takes this reserve.
      reserve.catch(() => undefined);
      this.#reserve = reserve;
    });
  }
}

/**
 * A sealer for many requests to one target (an attested key set).
 *
 * @throws ChannelError `unsupported-suite` when no suite fits; RangeError for
 *   a key-set digest that is not 32 bytes.
 * @example
 * const sealer = createRequestSealer(verified, { backend: nodeBackend });
 * const { body, headers, context } = await sealer.seal({ method: "POST", path: "/v1/chat/completions", contentType: "application/json", body });
 */
export function createRequestSealer(target: SealTarget, options: SealOptions = {}): RequestSealer {
  return new RequestSealer(TOKEN, planSeal(target, options));
}
