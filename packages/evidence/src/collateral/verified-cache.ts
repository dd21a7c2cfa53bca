/**
 * A bounded cache of verification results, keyed by SHA-256 of the exact
 * bytes that were verified (length-prefixed, so distinct inputs never share
 * a key). Only what does not depend on the validation time is reused — a
 * signature over given bytes with a given key verifies at any time — and
 * each entry carries the test of its validity window (certificate
 * notBefore/notAfter, CRL thisUpdate/nextUpdate, collateral
 * issueDate/nextUpdate): a hit outside its window is not used; the full
 * verification runs instead, so a cached verifier fails with exactly the
 * errors an uncached one does.
 *
 * Checks that depend on the evidence (a PCK or device leaf's signature over
 * a report, revocation of the leaf, the binding) are never cached: callers
 * run them on every call.
 */
import { hash, toHex } from "@veritee/core";
import type { VerifiedCertificateChain } from "../x509/chain.js";
import type { VerifiedCrl } from "../x509/crl.js";

/** The default number of entries of a verifier's cache. */
export const DEFAULT_VERIFIED_CACHE_SIZE = 64;

interface Entry<T> {
  readonly value: T;
  readonly validAt: (at: Date) => boolean;
}

/** A bounded LRU map from SHA-256 of the verified inputs to a result with its validity test. */
export class VerifiedCache {
  readonly #entries = new Map<string, Entry<unknown>>();
  readonly #maxEntries: number;
  #hits = 0;
  #misses = 0;

  /** @param maxEntries the most entries kept; the least recently used goes first. */
  constructor(maxEntries: number = DEFAULT_VERIFIED_CACHE_SIZE) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("cacheSize must be a positive integer");
    this.#maxEntries = maxEntries;
  }

  /** Entries held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Hits and misses so far (a hit outside its window counts as a miss). */
  get stats(): { readonly hits: number; readonly misses: number } {
    return Object.freeze({ hits: this.#hits, misses: this.#misses });
  }

  /** Forget every entry. */
  clear(): void {
    this.#entries.clear();
  }

  /**
   * The cached result for `(label, parts)` when it is valid at `at`;
   * otherwise the result of `verify()` (which throws on failure, and is then
   * not cached), stored with `validAt`.
   */
  async get<T>(
    label: string,
    parts: readonly Uint8Array[],
    at: Date,
    verify: () => Promise<T>,
    validAt: (value: T, at: Date) => boolean,
  ): Promise<T> {
    const key = cacheKey(label, parts);
    const entry = this.#entries.get(key) as Entry<T> | undefined;
    if (entry?.validAt(at)) {
      this.#hits++;
      // Refresh its place: a Map iterates in insertion order, so this is LRU.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      return entry.value;
    }
    this.#misses++;
    const value = await verify();
    this.#entries.delete(key);
    this.#entries.set(key, { value, validAt: (t) => validAt(value, t) });
    while (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    return value;
  }
}

/**
 * `cache.get(...)` with a cache, or just `verify()` without one: the
 * functional verifiers pass no cache and behave exactly as before.
 */
export function maybeCached<T>(
  cache: VerifiedCache | undefined,
  label: string,
  parts: readonly Uint8Array[],
  at: Date,
  verify: () => Promise<T>,
  validAt: (value: T, at: Date) => boolean,
): Promise<T> {
  return cache === undefined ? verify() : cache.get(label, parts, at, verify, validAt);
}

/** Bytes of a DER-or-PEM input, for a cache key. */
export function inputBytes(input: Uint8Array | string): Uint8Array {
  return typeof input === "string" ? new TextEncoder().encode(input) : input;
}

function cacheKey(label: string, parts: readonly Uint8Array[]): string {
  const prefixed: Uint8Array[] = [new TextEncoder().encode(label)];
  for (const part of parts) {
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, part.length);
    prefixed.push(length, part);
  }
  return toHex(hash("sha256", ...prefixed));
}

/** RFC 5280 §4.1.2.5: every certificate of the path is valid at `at` (both bounds inclusive). */
export function chainValidAt(chain: VerifiedCertificateChain, at: Date): boolean {
  const t = at.getTime();
  return chain.path.every((c) => c.notBefore.getTime() <= t && t <= c.notAfter.getTime());
}

/** RFC 5280 §6.3.3 (a): `thisUpdate ≤ at ≤ nextUpdate`. */
export function crlValidAt(crl: VerifiedCrl, at: Date): boolean {
  const t = at.getTime();
  const next = crl.crl.nextUpdate;
  return crl.crl.thisUpdate.getTime() <= t && next !== undefined && t <= next.getTime();
}
