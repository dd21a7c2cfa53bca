/**
 * The session behind `session.fetch`: the current attested link (a verified
 * attestation, its appraisal and the channel to its keys), re-attestation
 * when the policy's freshness limit passes or the server's key set changes,
 * and the retry bound that keeps a misbehaving server from looping the
 * client. Links are cached per key set, so returning to a key set seen
 * before reuses its channel (pinned connections, HPKE key import) while the
 * attestation itself is always redone with a fresh nonce.
 */

import type { VerifiedAttestation } from "@veritee/evidence";
import type { Appraisal } from "@veritee/policy";
import { ClientError } from "./errors.js";
import { type InferInput, type InferOutput, inferWith } from "./infer.js";
import { type OutgoingRequest, readOutgoingRequest } from "./request.js";
import { DEFAULT_TIMEOUTS, Deadline, untilAborted, withIdleTimeout } from "./timeouts.js";
import type { ServerAddress } from "./url.js";

/** How the session talks to one attested key set. */
export interface ChannelInfo {
  /** Request and response bodies are HPKE-sealed to the attested key. */
  readonly sealed: boolean;
  /** The TLS connection is pinned to the attested SPKI (https only). */
  readonly attestedTls: boolean;
}

/** The channel to one attested key set. Cached per key set by the session. */
export interface KeySetChannel {
  readonly info: ChannelInfo;
  /**
   * Send a request over this channel and return the (opened) response.
   * Resolves `"unknown-key"` when the server says it does not hold this key
   * set — it did not process the request — so the session re-attests.
   */
  exchange(request: OutgoingRequest): Promise<Response | "unknown-key">;
  /** Release the channel's resources (pinned connections). */
  close(): Promise<void>;
}

/** One attestation, verified and accepted by the policy. */
export interface AcceptedAttestation {
  readonly attestation: VerifiedAttestation;
  readonly appraisal: Appraisal;
  /** The attested key-set digest, lower-case hex: the channel cache key. */
  readonly keySetDigest: string;
  /** When the attestation was verified (ms since the epoch, on the session's clock). */
  readonly verifiedAt: number;
}

/** How a session attests (always with a fresh nonce) and opens channels; supplied by `connect`. */
export interface SessionDriver {
  /** Attest the server again and evaluate the policy. Rejects with the typed error of the step that failed. */
  attest(signal: AbortSignal | undefined): Promise<AcceptedAttestation>;
  /** Open the channel to an accepted attestation's key set. */
  openChannel(accepted: AcceptedAttestation): Promise<KeySetChannel>;
}

interface Current {
  readonly accepted: AcceptedAttestation;
  readonly channel: KeySetChannel;
}

/** A verified session with an attested server. */
export interface Session {
  /** The policy's appraisal of the current attestation (every claim, expected and actual). */
  readonly appraisal: Appraisal;
  /** The current verified attestation (AK residency proven). */
  readonly attestation: VerifiedAttestation;
  /** How requests travel on the current attestation's keys. */
  readonly channel: ChannelInfo;
  /** The server's API root, e.g. `https://host:8443/v1`. */
  readonly baseURL: string;
  /**
   * A `fetch` for the attested server only: `new OpenAI({ baseURL, apiKey, fetch: session.fetch })`.
   * Streaming responses come back as a `Response` whose body is the opened plaintext stream.
   */
  readonly fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /**
   * One inference on an ONNX model of the server (the Open Inference Protocol, through the sealed channel):
   * typed arrays are sent as binary tensors, plain arrays as JSON; outputs come back as typed arrays.
   */
  infer(
    model: string,
    inputs: readonly InferInput[],
    options?: { readonly signal?: AbortSignal },
  ): Promise<InferOutput[]>;
  /** Release connections; later `fetch` calls reject with `ClientError("session-closed")`. Idempotent. */
  close(): Promise<void>;
}

/** How many times one request may meet a key set the server does not hold before the session gives up. */
export const MAX_KEY_SET_RETRIES = 2;

/** The session implementation; built by `connect` after the first attestation was accepted. */
export class ClientSession implements Session {
  readonly baseURL: string;
  readonly #address: ServerAddress;
  readonly #driver: SessionDriver;
  readonly #now: () => Date;
  readonly #maxAgeMs: number;
  readonly #requestTimeoutMs: number;
  /** Channels by key-set digest, with the last time that key set was attested. */
  readonly #channels = new Map<string, { channel: KeySetChannel; attestedAt: number }>();
  #current: Current;
  #refreshing: Promise<Current> | undefined;
  #closed = false;

  /** Not for callers: use `connect`. */
  constructor(options: {
    readonly address: ServerAddress;
    readonly driver: SessionDriver;
    readonly now: () => Date;
    readonly maxAgeSeconds: number;
    /** The wait for a response, then for each chunk of its body (ms; default `DEFAULT_TIMEOUTS.requestMs`). */
    readonly requestTimeoutMs?: number;
    readonly first: AcceptedAttestation;
    readonly channel: KeySetChannel;
  }) {
    this.#address = options.address;
    this.baseURL = options.address.apiRoot;
    this.#driver = options.driver;
    this.#now = options.now;
    this.#maxAgeMs = options.maxAgeSeconds * 1000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUTS.requestMs;
    this.#current = { accepted: options.first, channel: options.channel };
    this.#channels.set(options.first.keySetDigest, { channel: options.channel, attestedAt: options.first.verifiedAt });
  }

  get appraisal(): Appraisal {
    return this.#current.accepted.appraisal;
  }

  get attestation(): VerifiedAttestation {
    return this.#current.accepted.attestation;
  }

  get channel(): ChannelInfo {
    return this.#current.channel.info;
  }

  infer(
    model: string,
    inputs: readonly InferInput[],
    options?: { readonly signal?: AbortSignal },
  ): Promise<InferOutput[]> {
    return inferWith(this.fetch, this.baseURL, model, inputs, options);
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    this.#assertOpen();
    const request = await readOutgoingRequest(this.#address, input, init);
    let current = await this.#fresh(request.signal);
    for (let attempt = 0; ; attempt++) {
      this.#assertOpen();
      const answer = await this.#exchange(current.channel, request);
      if (answer !== "unknown-key") return answer;
      if (attempt >= MAX_KEY_SET_RETRIES) {
        throw new ClientError("reattestation-exhausted", "the server does not hold the key sets it attests");
      }
      // The server no longer holds this key set (a restart, another replica): attest again before resending.
      current = await this.#refresh(request.signal, current);
    }
  };

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const channels = [...this.#channels.values()].map((c) => c.channel);
    this.#channels.clear();
    await Promise.all(channels.map((c) => c.close().catch(() => undefined)));
  }

  /**
   * One exchange under the request limit: the response must come within it,
   * and then its body may not pause longer than it. Either way the exchange
   * is cancelled on the wire and the caller gets `ClientError("timeout")`.
   */
  async #exchange(channel: KeySetChannel, request: OutgoingRequest): Promise<Response | "unknown-key"> {
    const limit = new Deadline(this.#requestTimeoutMs, "request", request.signal);
    let answer: Response | "unknown-key";
    try {
      answer = await untilAborted(channel.exchange({ ...request, signal: limit.signal }), limit.signal);
    } finally {
      limit.disarm();
    }
    if (answer === "unknown-key") return answer;
    return withIdleTimeout(answer, this.#requestTimeoutMs, (error) => limit.abort(error));
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClientError("session-closed", "the session is closed");
  }

  /** The current attestation, re-attested first when it is older than the freshness limit. */
  async #fresh(signal: AbortSignal | undefined): Promise<Current> {
    const current = this.#current;
    const age = this.#now().getTime() - current.accepted.verifiedAt;
    // A clock that went backwards counts as stale too: attest again rather than trust the old result.
    if (age >= 0 && age < this.#maxAgeMs) return current;
    return this.#refresh(signal, current);
  }

  /**
   * Attest again with a fresh nonce, unless another request already did since
   * `stale` was current. Concurrent callers share one attestation.
   */
  async #refresh(signal: AbortSignal | undefined, stale: Current): Promise<Current> {
    if (this.#current !== stale) return this.#fresh(signal);
    if (this.#refreshing === undefined) {
      const run = this.#reattest();
      this.#refreshing = run;
      const clear = () => {
        if (this.#refreshing === run) this.#refreshing = undefined;
      };
      run.then(clear, clear);
    }
    return abortable(this.#refreshing, signal);
  }

  async #reattest(): Promise<Current> {
    const accepted = await this.#driver.attest(undefined);
    this.#assertOpen();
    let cached = this.#channels.get(accepted.keySetDigest);
    if (cached === undefined) {
      const channel = await this.#driver.openChannel(accepted);
      if (this.#closed) {
        await channel.close().catch(() => undefined);
        this.#assertOpen();
      }
      cached = { channel, attestedAt: accepted.verifiedAt };
      this.#channels.set(accepted.keySetDigest, cached);
    }
    cached.attestedAt = accepted.verifiedAt;
    this.#current = { accepted, channel: cached.channel };
    this.#expire();
    return this.#current;
  }

  /** Close the channels of key sets not attested within the freshness limit. */
  #expire(): void {
    const now = this.#now().getTime();
    for (const [digest, entry] of this.#channels) {
      if (entry.channel !== this.#current.channel && now - entry.attestedAt >= this.#maxAgeMs) {
        this.#channels.delete(digest);
        void entry.channel.close().catch(() => undefined);
      }
    }
  }
}

/** `promise`, or the signal's reason when it aborts first (a shared attestation itself goes on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
