/**
 * The server's side of one lease (docs/CUSTODY.md "Governance"): sign a
 * renewal with the attested TLS key, send it, and accept the answer only if
 * it is signed by the lease key the release authenticated, for this
 * deployment, this release and this very renewal (`seq` echoed) — so a
 * lease for another deployment, an old lease replayed, or one made by
 * anyone but the custodian is refused with a typed error.
 *
 * The lease runs on the caller's monotonic clock from the moment the
 * renewal was *sent*, which is never later than when the custodian made it:
 * the server's lease ends no later than the custodian's record of it, and a
 * host that holds answers back gains nothing.
 */
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { base64Encode } from "@veritee/core";
import { CustodyError } from "../errors.js";
import {
  type BudgetWant,
  type ConsumerUsage,
  decodeErrorBody,
  decodeLeasePayload,
  decodeSigned,
  type LeasePayload,
  leaseSigningBytes,
  type RenewalPayload,
  renewalSigningBytes,
} from "../protocol/index.js";
import type { LeaseGrant } from "./client.js";

/** Options of {@link LeaseClient}. */
export interface LeaseClientOptions {
  readonly grant: LeaseGrant;
  readonly deployment: string;
  /** Sign with the attested TLS key (ECDSA P-256, SHA-256, DER). */
  readonly sign: (data: Uint8Array) => Promise<Uint8Array>;
  readonly fetch?: typeof fetch;
  /** Time limit of one renewal in ms (default 3000). */
  readonly timeoutMs?: number;
  /** The monotonic clock (default `performance.now`). */
  readonly now?: () => number;
}

/** A verified lease and when it ends on the monotonic clock. */
export interface HeldLease {
  readonly payload: LeasePayload;
  /** `now()` value after which the lease is over. */
  readonly validUntil: number;
}

const MAX_ANSWER_BYTES = 4 << 20;

/** One release's renewals, in order, one at a time. */
export class LeaseClient {
  readonly #options: LeaseClientOptions;
  readonly #leaseKey: KeyObject;
  readonly #now: () => number;
  #seq = 0;

  constructor(options: LeaseClientOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    try {
      this.#leaseKey = createPublicKey({ key: Buffer.from(options.grant.leaseKey), format: "der", type: "spki" });
    } catch (cause) {
      throw new CustodyError("bad-response", "the custodian's lease key is not a public key", { cause });
    }
    if (this.#leaseKey.asymmetricKeyType !== "ed25519") {
      throw new CustodyError("bad-response", "the custodian's lease key is not an Ed25519 key");
    }
  }

  get release(): string {
    return this.#options.grant.release;
  }

  /** The last `seq` sent. */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Renew: report `usage` (running totals under this release), ask for `want`.
   *
   * @throws CustodyError `unreachable` (no answer in time, 5xx), `bad-response`
   *   (a forged, foreign, stale or malformed lease), or the custodian's
   *   refusal (`refused` with its claim, `replayed`, `not-found`).
   */
  async renew(usage: readonly ConsumerUsage[], want: readonly BudgetWant[], final = false): Promise<HeldLease> {
    const o = this.#options;
    const payload: RenewalPayload = {
      release: o.grant.release,
      deployment: o.deployment,
      seq: ++this.#seq,
      usage,
      want,
      final,
    };
    const signature = await o.sign(renewalSigningBytes(payload));
    const sentAt = this.#now();
    let response: Response;
    try {
      response = await (o.fetch ?? fetch)(
        new URL("v1/lease", o.grant.custodian.endsWith("/") ? o.grant.custodian : `${o.grant.custodian}/`),
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ payload, signature: base64Encode(signature) }),
          signal: AbortSignal.timeout(o.timeoutMs ?? 3000),
          redirect: "error",
        },
      );
    } catch (cause) {
      throw new CustodyError("unreachable", "the custodian did not answer the lease renewal", { cause });
    }
    const text = await response.text().catch(() => "");
    if (text.length > MAX_ANSWER_BYTES) throw new CustodyError("bad-response", "the lease is too large");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      if (response.status >= 500 || response.status === 429) {
        throw new CustodyError("unreachable", `the custodian answered the renewal with HTTP ${response.status}`);
      }
      let error: { code: string; message: string; claim?: string } = {
        code: "refused",
        message: `HTTP ${response.status}`,
      };
      try {
        error = decodeErrorBody(body);
      } catch {
        // The status says enough.
      }
      const code =
        (["refused", "replayed", "not-found", "revoked"] as const).find((c) => c === error.code) ?? "refused";
      throw new CustodyError(
        code,
        `lease renewal: ${error.message.slice(0, 300)}`,
        error.claim ? { claim: error.claim } : {},
      );
    }
    let signed: ReturnType<typeof decodeSigned<LeasePayload>>;
    try {
      signed = decodeSigned(body, "Lease", decodeLeasePayload);
    } catch (cause) {
      throw new CustodyError("bad-response", "the lease does not decode", { cause, claim: "lease.format" });
    }
    if (!verify(null, leaseSigningBytes(signed.payload), this.#leaseKey, signed.signature)) {
      throw new CustodyError("bad-response", "the lease is not signed by the custodian's lease key", {
        claim: "lease.signature",
      });
    }
    const lease = signed.payload;
    if (lease.deployment !== o.deployment || lease.release !== o.grant.release) {
      throw new CustodyError("bad-response", "the lease is for another deployment or release", {
        claim: "lease.deployment",
      });
    }
    if (lease.seq !== payload.seq) {
      throw new CustodyError("bad-response", "the lease answers another renewal (replayed)", { claim: "lease.seq" });
    }
    return { payload: lease, validUntil: lease.status === "active" ? sentAt + lease.durationMs : sentAt };
  }
}
