/**
 * The lease keeper of a custodial deployment (docs/CUSTODY.md
 * "Governance"): holds the lease the server must have to serve, renews it
 * in the background (every third of its length, and at once when a block
 * runs dry), reports usage with each renewal, and fails closed:
 *
 * - when the lease ends — expired on this server's monotonic clock (the
 *   custodian unreachable), or answered `revoked`/`expired`/`ended` — the
 *   meter stops admitting (HTTP 503 `model_unavailable`), and the engine is
 *   ended and the plaintext RAM file closed (`drop`);
 * - then it tries, with capped backoff, to report the old release's last
 *   totals and to attest again (`reacquire`: a new release, a new unseal, a
 *   new engine), and serves again as soon as a lease is granted.
 *
 * Renewals are sent one at a time, so their `seq` reaches the custodian in
 * order.
 */
import type { HeldLease, LeaseGrant } from "@veritee/custody";
import { CustodyError, LeaseClient } from "@veritee/custody";
import type { Logger } from "../http/logger.js";
import { LaunchError } from "../launch/errors.js";
import type { Meter } from "./meter.js";

/** Options of {@link Governor}. */
export interface GovernorOptions {
  readonly deployment: string;
  readonly meter: Meter;
  /** Sign with the attested TLS key. */
  readonly sign: (data: Uint8Array) => Promise<Uint8Array>;
  /** Drop the key and the engine. */
  readonly drop: () => Promise<void>;
  /** Attest again, unseal again, load again: the new release's grant. */
  readonly reacquire: () => Promise<LeaseGrant>;
  readonly fetch?: typeof fetch;
  readonly logger?: Logger | undefined;
  /** The monotonic clock (default `performance.now`). */
  readonly now?: () => number;
  /**
   * The model could not be unloaded at the lease's end (its plaintext still
   * mapped): default, log it and exit the process with status 70 — the
   * operating system then frees what the engine did not.
   */
  readonly onFatal?: (error: unknown) => void;
  /** Backoff of reacquisition in ms (default 500 doubling to 5000). */
  readonly retryMs?: { readonly base: number; readonly max: number };
}

/** Counts for the server's metrics (no consumer data). */
interface GovernorCounts {
  renewals: number;
  failures: number;
  losses: number;
}

/** The lease keeper. */
export class Governor {
  readonly #options: GovernorOptions;
  readonly #now: () => number;
  #client: LeaseClient | undefined;
  #held: HeldLease | undefined;
  #receivedAt = 0;
  #renewTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  /** The renewal in flight, and whether another is wanted after it. */
  #inFlight: Promise<void> | undefined;
  #again: Promise<void> | undefined;
  #lost: Promise<void> | undefined;
  #closed = false;
  readonly counts: GovernorCounts = { renewals: 0, failures: 0, losses: 0 };

  constructor(options: GovernorOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Whether a lease lets the server serve now. */
  get serving(): boolean {
    return this.#options.meter.serving;
  }

  /** Seconds since the last lease arrived (for the metrics), or undefined. */
  get leaseAgeSeconds(): number | undefined {
    return this.#held ? (this.#now() - this.#receivedAt) / 1000 : undefined;
  }

  /**
   * Start with a release's grant: the first lease must be granted before the
   * server serves.
   *
   * @throws CustodyError when the custodian refuses or cannot be reached.
   */
  async start(grant: LeaseGrant): Promise<void> {
    this.#begin(grant);
    await this.#renewOnce();
    if (!this.#options.meter.serving) {
      throw new CustodyError("lease-lost", `the custodian granted no lease: ${this.#held?.payload.status ?? "none"}`);
    }
  }

  #begin(grant: LeaseGrant): void {
    const o = this.#options;
    this.#client = new LeaseClient({
      grant,
      deployment: o.deployment,
      sign: o.sign,
      ...(o.fetch ? { fetch: o.fetch } : {}),
      now: this.#now,
    });
    o.meter.startEpoch(grant.release);
  }

  /** Renew now (a block ran dry); resolves when a lease sent after this call is in, or failed. */
  topUp(): Promise<void> {
    if (this.#closed || this.#lost) return Promise.resolve();
    if (!this.#inFlight) return this.#renewNow();
    // One in flight was sent before this caller asked: one more after it, shared by all who ask meanwhile.
    this.#again ??= this.#inFlight.then(() => {
      this.#again = undefined;
      return this.#renewNow();
    });
    return this.#again;
  }

  /** Renew soon: a block runs low. */
  renewSoon(): void {
    if (!this.#inFlight && !this.#lost && !this.#closed) void this.#renewNow();
  }

  #renewNow(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    this.#inFlight = this.#renewOnce()
      .catch((error: unknown) => {
        this.counts.failures++;
        this.#options.logger?.log("warn", "custody-lease-renewal-failed", {
          code: error instanceof CustodyError ? error.code : "error",
          claim: error instanceof CustodyError ? error.claim : undefined,
        });
        // Refused for good (not a network failure): the lease is over.
        if (error instanceof CustodyError && error.code !== "unreachable") this.#lose(`refused: ${error.code}`);
        else this.#schedule(500);
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
  }

  async #renewOnce(): Promise<void> {
    const client = this.#client!;
    const meter = this.#options.meter;
    const { usage: sent, want } = meter.prepareRenewal();
    const held = await client.renew(sent, want);
    if (this.#client !== client || this.#closed) return;
    this.counts.renewals++;
    this.#held = held;
    this.#receivedAt = this.#now();
    if (held.payload.status !== "active") {
      this.#lose(held.payload.status);
      return;
    }
    meter.applyLease(held, sent);
    this.#armExpiry(held.validUntil);
    this.#schedule(held.payload.durationMs / 3);
  }

  #schedule(ms: number): void {
    if (this.#closed || this.#lost) return;
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(() => void this.#renewNow(), Math.max(10, ms)).unref();
  }

  #armExpiry(validUntil: number): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = setTimeout(
      () => {
        if (this.#now() >= validUntil) this.#lose("expired");
        else this.#armExpiry(validUntil);
      },
      Math.max(0, validUntil - this.#now()),
    ).unref();
  }

  /** The lease is over: stop serving, drop the key and the engine, then try to come back. */
  #lose(reason: string): void {
    if (this.#lost || this.#closed) return;
    this.counts.losses++;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#expiryTimer);
    const o = this.#options;
    o.meter.stop();
    o.logger?.log("warn", "custody-lease-lost", { deployment: o.deployment, reason });
    this.#lost = (async () => {
      try {
        await o.drop();
      } catch (error) {
        this.#fatal(error);
        return;
      }
      await this.#comeBack();
    })().finally(() => {
      this.#lost = undefined;
    });
  }

  async #comeBack(): Promise<void> {
    const o = this.#options;
    const old = this.#client!;
    const oldEpoch = o.meter.epoch;
    let reported = false;
    const base = o.retryMs?.base ?? 500;
    const max = o.retryMs?.max ?? 5000;
    for (let attempt = 0; !this.#closed; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(max, base * 2 ** Math.min(attempt, 10))).unref());
      if (this.#closed) return;
      try {
        if (!reported) {
          // The old release's last totals, so nothing served under it is lost; any answer ends it.
          await old.renew(oldEpoch?.usage() ?? [], [], true).catch((error: unknown) => {
            if (error instanceof CustodyError && error.code === "unreachable") throw error;
          });
          reported = true;
        }
        const grant = await o.reacquire();
        if (this.#closed) return;
        this.#begin(grant);
        await this.#renewOnce();
        if (o.meter.serving) {
          o.logger?.log("info", "custody-lease-regained", { deployment: o.deployment });
          return;
        }
        await o.drop();
      } catch (error) {
        if (error instanceof LaunchError && error.code === "unload-failed") return this.#fatal(error);
        o.logger?.log("warn", "custody-reacquire-failed", {
          code: error instanceof CustodyError ? error.code : "error",
          claim: error instanceof CustodyError ? error.claim : undefined,
        });
      }
    }
  }

  #fatal(error: unknown): void {
    this.#closed = true;
    const o = this.#options;
    o.logger?.log("error", "custody-unload-failed", {
      deployment: o.deployment,
      code: error instanceof LaunchError ? error.code : "error",
    });
    if (o.onFatal) o.onFatal(error);
    else process.exit(70);
  }

  /** Metric families: renewals, failures, losses, lease age, serving. */
  renderMetrics(): string {
    const age = this.leaseAgeSeconds;
    return [
      "# HELP veritee_lease_renewals_total Lease renewals granted.",
      "# TYPE veritee_lease_renewals_total counter",
      `veritee_lease_renewals_total ${this.counts.renewals}`,
      "# HELP veritee_lease_renewal_failures_total Lease renewals that failed.",
      "# TYPE veritee_lease_renewal_failures_total counter",
      `veritee_lease_renewal_failures_total ${this.counts.failures}`,
      "# HELP veritee_lease_losses_total Times the lease ended and serving stopped.",
      "# TYPE veritee_lease_losses_total counter",
      `veritee_lease_losses_total ${this.counts.losses}`,
      "# HELP veritee_lease_age_seconds Seconds since the last lease arrived.",
      "# TYPE veritee_lease_age_seconds gauge",
      `veritee_lease_age_seconds ${age === undefined ? "NaN" : age.toFixed(3)}`,
      "# HELP veritee_lease_serving Whether a lease lets this server serve (1) or not (0).",
      "# TYPE veritee_lease_serving gauge",
      `veritee_lease_serving ${this.serving ? 1 : 0}`,
      "",
    ].join("\n");
  }

  /** Stop: the last totals are reported with a final renewal (best effort, 2 s), and the timers end. */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#expiryTimer);
    await this.#inFlight?.catch(() => undefined);
    this.#closed = true;
    this.#options.meter.stop();
    const client = this.#client;
    const epoch = this.#options.meter.epoch;
    if (client && !this.#lost) {
      await Promise.race([
        client.renew(epoch?.usage() ?? [], [], true).catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 2000).unref()),
      ]);
    }
  }
}
