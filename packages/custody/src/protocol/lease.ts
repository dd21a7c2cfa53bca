/**
 * The lease exchange of usage governance (docs/CUSTODY.md "Governance"): a
 * server that serves a custodial deployment renews a short lease with
 * `POST /v1/lease`, reporting its usage and asking for budget; the custodian
 * answers a lease that says how long the server may serve, which consumers
 * it may serve, how much of each one's quota it may spend (its block), and
 * the throttle.
 *
 * Both directions are signed, each under its own context string so that no
 * signature made for one purpose verifies for another:
 * - a renewal with the server's attested TLS key (ECDSA P-256, the key set's
 *   `tlsSpki`, which the custodian recorded at the release), over
 *   {@link RENEWAL_CONTEXT} ‖ canonical JSON of the payload;
 * - a lease with the custodian's Ed25519 lease key, over {@link LEASE_CONTEXT}
 *   ‖ canonical JSON of the payload. The server learns that key in the
 *   release answer, bound into the HPKE AAD of the released model key
 *   ({@link releaseAad}), so nobody between them can substitute his own.
 *
 * Usage is reported as running totals under one release, with a strictly
 * increasing `seq`: a replayed or reordered renewal is refused (its `seq` is
 * not above the last one), and a renewal that is re-sent after a lost
 * answer, with a new `seq`, adds nothing twice — the custodian adds only the
 * difference from the totals it holds.
 */
import {
  base64Decode,
  base64Encode,
  expectArray,
  expectHexDigest,
  expectInteger,
  expectObject,
  MalformedError,
} from "@veritee/core";
import { type Approval, decodeAmount, decodeApprovals } from "./approval.js";
import { expectObjectId, MAX_COUNT, members, signingBytes } from "./shape.js";

export { MAX_COUNT } from "./shape.js";

/** Prefix of what a server signs for a renewal. */
export const RENEWAL_CONTEXT = "veritee-lease-renewal-v1\0";
/** Prefix of what a custodian signs for a lease. */
export const LEASE_CONTEXT = "veritee-lease-v1\0";
/** The lease length when none is configured (issue 12: 10 s). */
export const DEFAULT_LEASE_MS = 10_000;
/** Bounds of a configured lease length. */
export const MIN_LEASE_MS = 1_000;
export const MAX_LEASE_MS = 3_600_000;
/** Most consumers one lease or renewal lists. */
export const MAX_LEASE_CONSUMERS = 10_000;

/** One consumer's running totals under one release. */
export interface ConsumerUsage {
  readonly consumer: string;
  readonly requests: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** The block a server asks to hold for one consumer, beyond the usage it reports. */
export interface BudgetWant {
  readonly consumer: string;
  readonly inferences: number;
  readonly tokens: number;
}

/** What a server signs to renew its lease. */
export interface RenewalPayload {
  /** The release the lease belongs to (its challenge id). */
  readonly release: string;
  readonly deployment: string;
  /** Strictly increasing per release, from 1. */
  readonly seq: number;
  /** Running totals per consumer under this release (consumers with no use may be left out). */
  readonly usage: readonly ConsumerUsage[];
  /**
   * The block to hold per consumer beyond the usage reported (what it has in
   * flight, and headroom if the consumer is active); a consumer not listed
   * gets none. The server holds itself to it from the moment it sends.
   */
  readonly want: readonly BudgetWant[];
  /** The server stops serving under this release: its unused blocks go back now. */
  readonly final: boolean;
}

/** A signed message: the payload and a signature over context ‖ canonical JSON of it. */
export interface Signed<T> {
  readonly payload: T;
  readonly signature: Uint8Array;
}

/** One consumer's share of a lease. */
export interface LeaseConsumer {
  readonly id: string;
  /** SHA-256 (hex) of its API key: how the server recognises it. */
  readonly keySha256: string;
  /**
   * What the server may still serve under this release (granted − used):
   * inferences and tokens, or null for a dimension without a quota.
   */
  readonly inferences: number | null;
  readonly tokens: number | null;
  /** The consumer's whole quota left, as the ledger has it now (null: no quota in that dimension). */
  readonly remainingInferences: number | null;
  readonly remainingTokens: number | null;
}

/** The slow-down switch. */
export interface Throttle {
  /** Generation speed cap for the deployment, shared by all its streams on a server; null: none. */
  readonly tokensPerSecond: number | null;
  /** Requests per minute per consumer, on each server; null: none. */
  readonly requestsPerMinute: number | null;
}

/** Why a lease does not let the server serve. */
export type LeaseStatus = "active" | "revoked" | "expired" | "ended";

/** What a custodian signs. */
export interface LeasePayload {
  readonly deployment: string;
  readonly release: string;
  /** The renewal's `seq` this answers: an old lease cannot answer a new renewal. */
  readonly seq: number;
  readonly status: LeaseStatus;
  /** How long the server may serve, from when it sent the renewal. */
  readonly durationMs: number;
  readonly consumers: readonly LeaseConsumer[];
  readonly throttle: Throttle;
}

function count(value: unknown, what: string): number {
  return expectInteger(value, what, 0, MAX_COUNT);
}

function nullableCount(value: unknown, what: string): number | null {
  return value === null ? null : count(value, what);
}

function expectBoolean(value: unknown, what: string): boolean {
  if (typeof value !== "boolean") throw new MalformedError("bad-value", what, "expected true or false");
  return value;
}

function expectReleaseId(value: unknown, what: string): string {
  return expectHexDigest(value, what, 16);
}

/** Each consumer at most once in a list. */
function unique<T extends { readonly consumer?: string; readonly id?: string }>(items: T[], what: string): T[] {
  const seen = new Set<string>();
  for (const item of items) {
    const id = item.consumer ?? item.id!;
    if (seen.has(id)) throw new MalformedError("bad-value", what, "a consumer is listed twice");
    seen.add(id);
  }
  return items;
}

/** Decode a renewal payload. @throws MalformedError naming the member. */
export function decodeRenewalPayload(value: unknown): RenewalPayload {
  const what = "RenewalPayload";
  const o = members(value, what, ["release", "deployment", "seq", "usage", "want", "final"]);
  const usage = expectArray(o.usage, `${what}.usage`, MAX_LEASE_CONSUMERS).map((u, i) => {
    const w = `${what}.usage[${i}]`;
    const m = members(u, w, ["consumer", "requests", "promptTokens", "completionTokens"]);
    return Object.freeze({
      consumer: expectObjectId(m.consumer, `${w}.consumer`),
      requests: count(m.requests, `${w}.requests`),
      promptTokens: count(m.promptTokens, `${w}.promptTokens`),
      completionTokens: count(m.completionTokens, `${w}.completionTokens`),
    });
  });
  const want = expectArray(o.want, `${what}.want`, MAX_LEASE_CONSUMERS).map((u, i) => {
    const w = `${what}.want[${i}]`;
    const m = members(u, w, ["consumer", "inferences", "tokens"]);
    return Object.freeze({
      consumer: expectObjectId(m.consumer, `${w}.consumer`),
      inferences: count(m.inferences, `${w}.inferences`),
      tokens: count(m.tokens, `${w}.tokens`),
    });
  });
  return Object.freeze({
    release: expectReleaseId(o.release, `${what}.release`),
    deployment: expectObjectId(o.deployment, `${what}.deployment`),
    seq: expectInteger(o.seq, `${what}.seq`, 1, MAX_COUNT),
    usage: Object.freeze(unique(usage, `${what}.usage`)),
    want: Object.freeze(unique(want, `${what}.want`)),
    final: expectBoolean(o.final, `${what}.final`),
  });
}

const STATUSES: readonly LeaseStatus[] = ["active", "revoked", "expired", "ended"];

/** Decode a lease payload. @throws MalformedError naming the member. */
export function decodeLeasePayload(value: unknown): LeasePayload {
  const what = "LeasePayload";
  const o = members(value, what, ["deployment", "release", "seq", "status", "durationMs", "consumers", "throttle"]);
  if (typeof o.status !== "string" || !STATUSES.includes(o.status as LeaseStatus)) {
    throw new MalformedError("bad-value", `${what}.status`, `expected one of ${STATUSES.join(", ")}`);
  }
  const consumers = expectArray(o.consumers, `${what}.consumers`, MAX_LEASE_CONSUMERS).map((c, i) => {
    const w = `${what}.consumers[${i}]`;
    const m = members(c, w, ["id", "keySha256", "inferences", "tokens", "remainingInferences", "remainingTokens"]);
    return Object.freeze({
      id: expectObjectId(m.id, `${w}.id`),
      keySha256: expectHexDigest(m.keySha256, `${w}.keySha256`, 32),
      inferences: nullableCount(m.inferences, `${w}.inferences`),
      tokens: nullableCount(m.tokens, `${w}.tokens`),
      remainingInferences: nullableCount(m.remainingInferences, `${w}.remainingInferences`),
      remainingTokens: nullableCount(m.remainingTokens, `${w}.remainingTokens`),
    });
  });
  const t = members(o.throttle, `${what}.throttle`, ["tokensPerSecond", "requestsPerMinute"]);
  const rate = (v: unknown, w: string) => (v === null ? null : expectInteger(v, w, 1, 1_000_000));
  return Object.freeze({
    deployment: expectObjectId(o.deployment, `${what}.deployment`),
    release: expectReleaseId(o.release, `${what}.release`),
    seq: expectInteger(o.seq, `${what}.seq`, 1, MAX_COUNT),
    status: o.status as LeaseStatus,
    durationMs: expectInteger(o.durationMs, `${what}.durationMs`, MIN_LEASE_MS, MAX_LEASE_MS),
    consumers: Object.freeze(unique(consumers, `${what}.consumers`)),
    throttle: Object.freeze({
      tokensPerSecond: rate(t.tokensPerSecond, `${what}.throttle.tokensPerSecond`),
      requestsPerMinute: rate(t.requestsPerMinute, `${what}.throttle.requestsPerMinute`),
    }),
  });
}

/** Decode `{payload, signature}` with `decode` for the payload. */
export function decodeSigned<T>(value: unknown, what: string, decode: (payload: unknown) => T): Signed<T> {
  const o = members(value, what, ["payload", "signature"]);
  expectObject(o.payload, `${what}.payload`);
  return Object.freeze({
    payload: decode(o.payload),
    // A DER ECDSA P-256 signature is at most 72 bytes; Ed25519's is 64.
    signature: base64Decode(o.signature, `${what}.signature`, 80),
  });
}

/** The bytes a server signs for a renewal. */
export function renewalSigningBytes(payload: RenewalPayload): Uint8Array {
  return signingBytes(RENEWAL_CONTEXT, payload);
}

/** The bytes a custodian signs for a lease. */
export function leaseSigningBytes(payload: LeasePayload): Uint8Array {
  return signingBytes(LEASE_CONTEXT, payload);
}

/** `POST /v1/admin/deployments/{d}/consumers/{c}/supply`: quota to add (one or both). */
export interface SupplyRequest {
  readonly inferences?: number;
  readonly tokens?: number;
  /** For a k-of-n model: k owners' approvals of exactly this supply. */
  readonly approvals: readonly Approval[];
}

/** Decode a supply request: at least one of `inferences`, `tokens`, each 1..2^53−1. */
export function decodeSupplyRequest(value: unknown): SupplyRequest {
  const what = "SupplyRequest";
  const o = members(value, what, [], ["inferences", "tokens", "approvals"]);
  return Object.freeze({ ...decodeAmount(o, what), approvals: decodeApprovals(o.approvals, `${what}.approvals`) });
}

/** `POST /v1/admin/deployments/{d}/throttle`: caps to set (a number) or clear (null), and the lease length. */
export interface ThrottleRequest {
  readonly tokensPerSecond?: number | null;
  readonly requestsPerMinute?: number | null;
  readonly leaseMs?: number;
}

/** Decode a throttle request: at least one member. */
export function decodeThrottleRequest(value: unknown): ThrottleRequest {
  const what = "ThrottleRequest";
  const o = members(value, what, [], ["tokensPerSecond", "requestsPerMinute", "leaseMs"]);
  if (Object.keys(o).length === 0) {
    throw new MalformedError("bad-value", what, "give tokensPerSecond, requestsPerMinute or leaseMs");
  }
  const rate = (name: string) =>
    Object.hasOwn(o, name)
      ? { [name]: o[name] === null ? null : expectInteger(o[name], `${what}.${name}`, 1, 1_000_000) }
      : {};
  return Object.freeze({
    ...rate("tokensPerSecond"),
    ...rate("requestsPerMinute"),
    ...(Object.hasOwn(o, "leaseMs")
      ? { leaseMs: expectInteger(o.leaseMs, `${what}.leaseMs`, MIN_LEASE_MS, MAX_LEASE_MS) }
      : {}),
  });
}

/** A deployment's throttle and lease length, as the throttle route answers. */
export interface ThrottleSettings extends Throttle {
  readonly deployment: string;
  readonly leaseMs: number;
}

/** Decode the throttle route's answer. */
export function decodeThrottleSettings(value: unknown): ThrottleSettings {
  const what = "ThrottleSettings";
  const o = members(value, what, ["deployment", "tokensPerSecond", "requestsPerMinute", "leaseMs"]);
  const rate = (v: unknown, w: string) => (v === null ? null : expectInteger(v, w, 1, 1_000_000));
  return Object.freeze({
    deployment: expectObjectId(o.deployment, `${what}.deployment`),
    tokensPerSecond: rate(o.tokensPerSecond, `${what}.tokensPerSecond`),
    requestsPerMinute: rate(o.requestsPerMinute, `${what}.requestsPerMinute`),
    leaseMs: expectInteger(o.leaseMs, `${what}.leaseMs`, MIN_LEASE_MS, MAX_LEASE_MS),
  });
}

/** One consumer's quota and use (`GET /v1/admin/usage`). */
export interface UsageRecord {
  readonly deployment: string;
  readonly consumer: string;
  readonly revoked: boolean;
  readonly requests: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly inferencesSupplied: number | null;
  readonly tokensSupplied: number | null;
  /** Supplied − used; below zero only by the last request's tokens (docs/CUSTODY.md "Exactness"). */
  readonly inferencesRemaining: number | null;
  readonly tokensRemaining: number | null;
}

/** Decode one usage record (the admin client's side). */
export function decodeUsageRecord(value: unknown): UsageRecord {
  const what = "UsageRecord";
  const o = members(value, what, [
    "deployment",
    "consumer",
    "revoked",
    "requests",
    "promptTokens",
    "completionTokens",
    "inferencesSupplied",
    "tokensSupplied",
    "inferencesRemaining",
    "tokensRemaining",
  ]);
  const signed = (v: unknown, w: string) => (v === null ? null : expectInteger(v, w, -MAX_COUNT, MAX_COUNT));
  return Object.freeze({
    deployment: expectObjectId(o.deployment, `${what}.deployment`),
    consumer: expectObjectId(o.consumer, `${what}.consumer`),
    revoked: expectBoolean(o.revoked, `${what}.revoked`),
    requests: count(o.requests, `${what}.requests`),
    promptTokens: count(o.promptTokens, `${what}.promptTokens`),
    completionTokens: count(o.completionTokens, `${what}.completionTokens`),
    inferencesSupplied: nullableCount(o.inferencesSupplied, `${what}.inferencesSupplied`),
    tokensSupplied: nullableCount(o.tokensSupplied, `${what}.tokensSupplied`),
    inferencesRemaining: signed(o.inferencesRemaining, `${what}.inferencesRemaining`),
    tokensRemaining: signed(o.tokensRemaining, `${what}.tokensRemaining`),
  });
}

/** The JSON of a signed message. */
export function signedToJson(signed: Signed<unknown>): Record<string, unknown> {
  return { payload: signed.payload, signature: base64Encode(signed.signature) };
}
