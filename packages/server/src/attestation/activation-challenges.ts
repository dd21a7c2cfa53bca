/**
 * The server's table of outstanding activation challenges (docs/ATTESTATION.md,
 * "Credential activation"). Every attestation the server answers issues one:
 * the nonce it quoted, for `ttlMs`. `POST /v1/attestation/activate` must name
 * an outstanding nonce, which it consumes whether or not the TPM then accepts
 * the credential. So activation needs a fresh attestation first, each
 * attestation buys at most one TPM2_ActivateCredential, and a credential
 * nobody attested for is refused before it reaches the TPM.
 *
 * The table is bounded: when it is full, issuing drops the oldest challenge
 * (the one closest to expiring). A flood of attestations can then make a slow
 * client's activation fail with `activation-unknown` and be retried, but it
 * can never grow the server's memory; attestations are themselves paced by the
 * TPM's quote rate.
 */
import { toHex } from "@veritee/core";
import { AttestationError } from "./errors.js";

/** How long, and how many, activation challenges stay outstanding. */
export interface ActivationChallengeOptions {
  /** How long after its attestation a challenge may be used, in milliseconds (default 60 000). */
  readonly ttlMs?: number;
  /** Most outstanding challenges; issuing beyond drops the oldest (default 1024). */
  readonly maxOutstanding?: number;
  /** The clock, in milliseconds since the epoch (default `Date.now`); injected by tests. */
  readonly now?: () => number;
}

/** Defaults of {@link ActivationChallengeOptions}. */
export const ACTIVATION_CHALLENGE_DEFAULTS = Object.freeze({ ttlMs: 60_000, maxOutstanding: 1024 });

/**
 * Outstanding activation challenges, keyed by the attested nonce.
 *
 * @example
 * const challenges = new ActivationChallenges({ ttlMs: 60_000 });
 * challenges.issue(nonce); // after answering GET /v1/attestation?nonce=…
 * challenges.take(nonce); // before TPM2_ActivateCredential; throws if unknown, used or expired
 */
export class ActivationChallenges {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  /** Nonce (hex) → when it was issued. A Map iterates in insertion order: oldest first. */
  readonly #issued = new Map<string, number>();

  /** @throws AttestationError `bad-argument` for a non-positive TTL or bound. */
  constructor(options: ActivationChallengeOptions = {}) {
    const ttlMs = options.ttlMs ?? ACTIVATION_CHALLENGE_DEFAULTS.ttlMs;
    const max = options.maxOutstanding ?? ACTIVATION_CHALLENGE_DEFAULTS.maxOutstanding;
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
      throw new AttestationError("bad-argument", "the activation challenge TTL must be a positive integer (ms)");
    }
    if (!Number.isSafeInteger(max) || max <= 0) {
      throw new AttestationError("bad-argument", "the bound on outstanding activation challenges must be positive");
    }
    this.#ttlMs = ttlMs;
    this.#max = max;
    this.#now = options.now ?? Date.now;
  }

  /** How many challenges are outstanding (expired ones not yet swept included). */
  get size(): number {
    return this.#issued.size;
  }

  /** Issue the challenge for an attestation of `nonce`: usable once, for the TTL. */
  issue(nonce: Uint8Array): void {
    const now = this.#now();
    const key = toHex(nonce);
    // Re-attesting a nonce renews its one challenge (and moves it to the young end), never adds a second.
    this.#issued.delete(key);
    this.#sweep(now);
    while (this.#issued.size >= this.#max) {
      const oldest = this.#issued.keys().next().value as string;
      this.#issued.delete(oldest);
    }
    this.#issued.set(key, now);
  }

  /**
   * Consume the challenge for `nonce`. It is gone afterwards, whatever the
   * caller then does with the credential.
   *
   * @throws AttestationError `activation-unknown` (never issued, already used,
   *   or dropped from a full table), `activation-expired` (older than the TTL,
   *   or the clock went backwards).
   */
  take(nonce: Uint8Array): void {
    const key = toHex(nonce);
    const issuedAt = this.#issued.get(key);
    if (issuedAt === undefined) {
      throw new AttestationError("activation-unknown", "no attestation is awaiting activation for this nonce");
    }
    this.#issued.delete(key);
    const age = this.#now() - issuedAt;
    // A clock that went backwards cannot date the challenge: fail closed.
    if (age < 0 || age > this.#ttlMs) {
      throw new AttestationError("activation-expired", "the attestation for this nonce is too old to activate");
    }
  }

  /** Drop expired challenges from the old end (insertion order is issue order). */
  #sweep(now: number): void {
    for (const [key, issuedAt] of this.#issued) {
      if (now - issuedAt <= this.#ttlMs && now >= issuedAt) break;
      this.#issued.delete(key);
    }
  }
}
