/**
 * Metering and quotas on the server (docs/CUSTODY.md "Governance"): who may
 * use a custodial deployment, how much of each consumer's quota this server
 * may still spend, and the throttle — all from the last lease, with no round
 * trip per request.
 *
 * Each admitted request reserves one inference and up to its `max_tokens`
 * (capped by the tokens left) from this server's block, and settles to what
 * it used when it ends; a request that never started gives its reservation
 * back. When a block runs dry the request asks the lease keeper for more at
 * once (one renewal for all who wait) and, if the custodian has none left
 * for this server, waits for this server's own requests in flight to settle
 * before it is refused — so a refusal means the quota is spent or held by
 * another replica, and 200 requests against 100 inferences serve exactly 100.
 *
 * Usage is counted per release (an {@link Epoch}): a server that attests
 * again starts a new one, and the old one's last totals are still reported
 * under the old release.
 */
import { createHash } from "node:crypto";
import type { OutgoingHttpHeaders } from "node:http";
import type { BudgetWant, ConsumerUsage, HeldLease, LeaseConsumer, Throttle } from "@veritee/custody";
import { HttpError } from "../http/errors.js";
import type { Admission, Governance } from "../http/governance.js";

/** The running totals of one consumer under one release. */
interface Totals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

/** One release's usage, reported as running totals with its renewals. */
export class Epoch {
  readonly totals = new Map<string, Totals>();
  constructor(readonly release: string) {}

  /** The totals to report. */
  usage(): ConsumerUsage[] {
    return [...this.totals].map(([consumer, t]) => ({ consumer, ...t }));
  }

  add(consumer: string, promptTokens: number, completionTokens: number): void {
    const t = this.totals.get(consumer) ?? { requests: 0, promptTokens: 0, completionTokens: 0 };
    t.requests += 1;
    t.promptTokens += promptTokens;
    t.completionTokens += completionTokens;
    this.totals.set(consumer, t);
  }
}

/** One consumer as this server knows it from the last lease. */
interface ConsumerState {
  readonly id: string;
  /** Cumulative grant under the current epoch; null: no quota in that dimension. */
  grantedInferences: number | null;
  grantedTokens: number | null;
  /** The ledger's remaining quota when the lease was made, and this epoch's totals it had counted then. */
  remaining: { inferences: number | null; tokens: number | null };
  counted: { requests: number; tokens: number };
  reservedInferences: number;
  reservedTokens: number;
  /** Woken when a request of this consumer settles. */
  waiters: (() => void)[];
  /** Requests-per-minute bucket. */
  bucket: { tokens: number; at: number };
  /** Requests and tokens since the last renewal: the next one asks for headroom in proportion. */
  active: boolean;
  admittedSince: number;
  tokensSince: number;
  /** The block the last lease granted (inferences, tokens), to renew early when a quarter is left. */
  lastBlock: { inferences: number; tokens: number };
}

/**
 * The least headroom an active consumer's block gets (inferences, tokens);
 * a busy consumer gets four times what it used since the last renewal, so a
 * server renews a few times a lease, not every few requests. The custodian
 * caps it (ledger.ts MAX_BLOCK).
 */
const BLOCK = Object.freeze({ inferences: 16, tokens: 4096 });
const MAX_HEADROOM = Object.freeze({ inferences: 10_000, tokens: 10_000_000 });

/** The remaining quota of a consumer, as `GET /v1/quota` answers. */
export interface QuotaView {
  readonly deployment: string;
  readonly consumer: string;
  readonly inferences: number | null;
  readonly tokens: number | null;
}

/** What the meter asks of the lease keeper. */
export interface MeterHooks {
  /** Renew now, asking for more; resolves when the next lease (or its failure) is in. */
  topUp(): Promise<void>;
  /** Renew soon (a block runs low). */
  renewSoon(): void;
}

const DIGEST_CACHE_MAX = 4096;

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function insufficientQuota(): HttpError {
  return new HttpError("insufficient-quota", "You exceeded your current quota for this model.");
}

/** The meter of one custodial deployment on this server. */
export class Meter implements Governance {
  readonly deployment: string;
  readonly #hooks: MeterHooks;
  readonly #now: () => number;
  readonly #byDigest = new Map<string, ConsumerState>();
  readonly #digests = new Map<string, string>();
  #epoch: Epoch | undefined;
  #serving = false;
  #throttle: Throttle = { tokensPerSecond: null, requestsPerMinute: null };
  #nextToken = 0;
  /** Requests waiting for a top-up, per consumer: what the next renewal asks for. */
  readonly #waiting = new Map<string, number>();

  constructor(deployment: string, hooks: MeterHooks, options: { now?: () => number } = {}) {
    this.deployment = deployment;
    this.#hooks = hooks;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Whether a lease lets this server serve now. */
  get serving(): boolean {
    return this.#serving;
  }

  get epoch(): Epoch | undefined {
    return this.#epoch;
  }

  /** A new release: usage counts from zero under it. */
  startEpoch(release: string): Epoch {
    this.#epoch = new Epoch(release);
    for (const c of this.#byDigest.values()) {
      c.grantedInferences = c.grantedInferences === null ? null : 0;
      c.grantedTokens = c.grantedTokens === null ? null : 0;
    }
    return this.#epoch;
  }

  /** Stop serving (the lease ended); requests in flight settle into their epoch. */
  stop(): void {
    this.#serving = false;
    for (const c of this.#byDigest.values()) this.#wake(c);
  }

  /**
   * What the next renewal sends: this epoch's totals, and per consumer the
   * block to hold beyond them — what its requests in flight reserved, plus
   * headroom if it was active since the last renewal (more when requests
   * wait). From now until the answer, this server holds itself to that
   * block, so the custodian may grant less without taking back anything
   * already being spent; an idle server's blocks go back this way.
   */
  prepareRenewal(): { usage: ConsumerUsage[]; want: BudgetWant[] } {
    const usage = this.#epoch?.usage() ?? [];
    const want: BudgetWant[] = [];
    for (const c of this.#byDigest.values()) {
      const waiting = this.#waiting.get(c.id) ?? 0;
      const headroom = c.active || waiting > 0;
      const room = {
        inferences: Math.min(MAX_HEADROOM.inferences, Math.max(BLOCK.inferences, 4 * c.admittedSince, 2 * waiting)),
        tokens: Math.min(MAX_HEADROOM.tokens, Math.max(BLOCK.tokens, 4 * c.tokensSince, 2048 * waiting)),
      };
      c.active = false;
      c.admittedSince = 0;
      c.tokensSince = 0;
      const wantInferences = c.reservedInferences + (headroom ? room.inferences : 0);
      const wantTokens = c.reservedTokens + (headroom ? room.tokens : 0);
      const t = this.#epoch?.totals.get(c.id);
      if (c.grantedInferences !== null) {
        c.grantedInferences = Math.min(c.grantedInferences, (t?.requests ?? 0) + wantInferences);
      }
      if (c.grantedTokens !== null) {
        c.grantedTokens = Math.min(c.grantedTokens, (t?.promptTokens ?? 0) + (t?.completionTokens ?? 0) + wantTokens);
      }
      if (wantInferences > 0 || wantTokens > 0)
        want.push({ consumer: c.id, inferences: wantInferences, tokens: wantTokens });
    }
    return { usage, want };
  }

  /**
   * Apply a verified lease, answering a renewal that reported `sent` (this
   * epoch's totals when it was sent).
   */
  applyLease(lease: HeldLease, sent: readonly ConsumerUsage[]): void {
    const payload = lease.payload;
    if (payload.status !== "active") {
      this.stop();
      return;
    }
    const sentBy = new Map(sent.map((u) => [u.consumer, u]));
    const next = new Map<string, ConsumerState>();
    for (const line of payload.consumers) {
      const old = this.#byDigest.get(line.keySha256);
      const s = sentBy.get(line.id) ?? { requests: 0, promptTokens: 0, completionTokens: 0 };
      const state: ConsumerState = old && old.id === line.id ? old : this.#fresh(line);
      state.grantedInferences = line.inferences === null ? null : s.requests + line.inferences;
      state.grantedTokens = line.tokens === null ? null : s.promptTokens + s.completionTokens + line.tokens;
      state.remaining = { inferences: line.remainingInferences, tokens: line.remainingTokens };
      state.counted = { requests: s.requests, tokens: s.promptTokens + s.completionTokens };
      state.lastBlock = { inferences: line.inferences ?? 0, tokens: line.tokens ?? 0 };
      next.set(line.keySha256, state);
    }
    // Consumers no longer listed (revoked) wake up to be refused.
    for (const [digest, c] of this.#byDigest) if (!next.has(digest)) this.#wake(c);
    this.#byDigest.clear();
    for (const [digest, c] of next) this.#byDigest.set(digest, c);
    this.#throttle = payload.throttle;
    this.#serving = true;
  }

  #fresh(line: LeaseConsumer): ConsumerState {
    return {
      id: line.id,
      grantedInferences: null,
      grantedTokens: null,
      remaining: { inferences: null, tokens: null },
      counted: { requests: 0, tokens: 0 },
      reservedInferences: 0,
      reservedTokens: 0,
      waiters: [],
      bucket: { tokens: Number.POSITIVE_INFINITY, at: this.#now() },
      active: false,
      admittedSince: 0,
      tokensSince: 0,
      lastBlock: { inferences: 0, tokens: 0 },
    };
  }

  #digest(token: string): string {
    let d = this.#digests.get(token);
    if (d === undefined) {
      d = sha256Hex(token);
      if (this.#digests.size >= DIGEST_CACHE_MAX) this.#digests.clear();
      this.#digests.set(token, d);
    }
    return d;
  }

  /** Whether `token` is a current consumer's API key (the access check). */
  knows(token: string | undefined): boolean {
    return token !== undefined && this.#byDigest.has(this.#digest(token));
  }

  #consumer(token: string | undefined): ConsumerState {
    const c = token === undefined ? undefined : this.#byDigest.get(this.#digest(token));
    if (!c)
      throw new HttpError("unauthorized", "A valid API key is required: send it as 'Authorization: Bearer <key>'.");
    return c;
  }

  #unavailable(): HttpError {
    return new HttpError(
      "model-unavailable",
      "The model is not available: this server holds no lease from the model's custodian. Retry later.",
      { retryAfterSeconds: 1 },
    );
  }

  #left(c: ConsumerState): { inferences: number; tokens: number } {
    const e = this.#epoch?.totals.get(c.id);
    const used = { r: e?.requests ?? 0, t: (e?.promptTokens ?? 0) + (e?.completionTokens ?? 0) };
    return {
      inferences:
        c.grantedInferences === null ? Number.POSITIVE_INFINITY : c.grantedInferences - used.r - c.reservedInferences,
      tokens: c.grantedTokens === null ? Number.POSITIVE_INFINITY : c.grantedTokens - used.t - c.reservedTokens,
    };
  }

  /** The consumer's whole remaining quota, as far as this server knows. */
  #remaining(c: ConsumerState): { inferences: number | null; tokens: number | null } {
    const e = this.#epoch?.totals.get(c.id);
    const since = {
      r: (e?.requests ?? 0) - c.counted.requests + c.reservedInferences,
      t: (e?.promptTokens ?? 0) + (e?.completionTokens ?? 0) - c.counted.tokens,
    };
    return {
      inferences: c.remaining.inferences === null ? null : Math.max(0, c.remaining.inferences - since.r),
      tokens: c.remaining.tokens === null ? null : Math.max(0, c.remaining.tokens - since.t),
    };
  }

  #header(c: ConsumerState): OutgoingHttpHeaders {
    const r = this.#remaining(c);
    const parts = [
      ...(r.inferences === null ? [] : [`inferences=${r.inferences}`]),
      ...(r.tokens === null ? [] : [`tokens=${r.tokens}`]),
    ];
    return { "x-veritee-quota-remaining": parts.length ? parts.join(", ") : "unlimited" };
  }

  #wake(c: ConsumerState): void {
    const waiters = c.waiters;
    c.waiters = [];
    for (const wake of waiters) wake();
  }

  #rateLimit(c: ConsumerState): void {
    const rpm = this.#throttle.requestsPerMinute;
    if (rpm === null) return;
    const now = this.#now();
    const perMs = rpm / 60_000;
    const b = c.bucket;
    b.tokens = Math.min(rpm, (Number.isFinite(b.tokens) ? b.tokens : rpm) + (now - b.at) * perMs);
    b.at = now;
    if (b.tokens < 1) {
      throw new HttpError("too-many-requests", "Too many requests for this API key; retry later.", {
        retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)),
      });
    }
    b.tokens -= 1;
  }

  /**
   * Admit a metered request of the consumer whose API key is `token`.
   *
   * @throws HttpError `model-unavailable` (no lease), `unauthorized`,
   *   `too-many-requests` (requests per minute), `insufficient-quota`.
   */
  async admit(
    token: string | undefined,
    want: { readonly maxTokens: number | undefined; readonly contextSize: number | undefined },
    signal: AbortSignal,
  ): Promise<Admission> {
    if (!this.#serving) throw this.#unavailable();
    let c = this.#consumer(token);
    c.active = true;
    this.#rateLimit(c);
    for (let round = 0; ; round++) {
      const left = this.#left(c);
      if (left.inferences >= 1 && left.tokens >= 1) break;
      if (signal.aborted) throw signal.reason;
      if (round % 2 === 0) {
        this.#waiting.set(c.id, (this.#waiting.get(c.id) ?? 0) + 1);
        try {
          await this.#hooks.topUp();
        } finally {
          const w = (this.#waiting.get(c.id) ?? 1) - 1;
          if (w > 0) this.#waiting.set(c.id, w);
          else this.#waiting.delete(c.id);
        }
      } else if (c.reservedInferences > 0 || c.reservedTokens > 0) {
        // Requests of this consumer in flight here may give some back: wait for one to settle.
        await new Promise<void>((resolve) => c.waiters.push(resolve));
      } else {
        throw insufficientQuota();
      }
      if (!this.#serving) throw this.#unavailable();
      c = this.#consumer(token);
    }
    const left = this.#left(c);
    const tokens =
      c.grantedTokens === null ? 0 : Math.min(left.tokens, want.maxTokens ?? want.contextSize ?? left.tokens);
    c.reservedInferences += 1;
    c.reservedTokens += tokens;
    const epoch = this.#epoch!;
    const headers = this.#header(c);
    let settled = false;
    const consumer = c;
    return {
      consumer: c.id,
      maxTokens: c.grantedTokens === null ? want.maxTokens : tokens,
      headers,
      pace: () => this.#pace(),
      settle: (used) => {
        if (settled) return;
        settled = true;
        consumer.reservedInferences -= 1;
        consumer.reservedTokens -= tokens;
        if (used) {
          epoch.add(consumer.id, used.promptTokens, used.completionTokens);
          consumer.admittedSince += 1;
          consumer.tokensSince += used.promptTokens + used.completionTokens;
        }
        this.#wake(consumer);
        // A quarter of the block left: ask for more before it runs out.
        const after = this.#left(consumer);
        const low = consumer.lastBlock;
        if (after.inferences <= Math.max(4, low.inferences / 4) || after.tokens <= Math.max(512, low.tokens / 4)) {
          this.#hooks.renewSoon();
        }
      },
    };
  }

  /** The throttle: one token every 1/N s for the whole deployment, in the order streams ask (FIFO, so fair). */
  #pace(): Promise<void> | undefined {
    const rate = this.#throttle.tokensPerSecond;
    if (rate === null) return undefined;
    const now = this.#now();
    const at = Math.max(now, this.#nextToken);
    this.#nextToken = at + 1000 / rate;
    if (at <= now) return undefined;
    return new Promise((resolve) => setTimeout(resolve, at - now));
  }

  /**
   * `GET /v1/quota`.
   *
   * @throws HttpError `unauthorized`, `model-unavailable`.
   */
  quota(token: string | undefined): QuotaView {
    if (!this.#serving) throw this.#unavailable();
    const c = this.#consumer(token);
    return { deployment: this.deployment, consumer: c.id, ...this.#remaining(c) };
  }
}
