/**
 * The release client: what an attested server runs at start to get a sealed
 * model's key (docs/CUSTODY.md "Key release"). For each custodian, three
 * round trips:
 *
 *  1. `POST /v1/release/challenge {deployment}` → a fresh nonce (single use, 60 s);
 *  2. `POST /v1/release/attest {challengeId, document}` — the server's
 *     attestation document for that nonce, the one clients get — → a credential
 *     activation request, made by the custodian after the document passed the
 *     deployment's policy;
 *  3. `POST /v1/release/activate {challengeId, proof}` — the TPM's answer —
 *     → the key (or this custodian's Shamir share), HPKE-sealed to the
 *     attested key set, which only this process can open.
 *
 * With k-of-n owners every custodian is asked at once and the first k shares
 * are combined. Unreachable custodians and 5xx answers are retried with
 * capped exponential backoff (a custodian restarting after a crash); a
 * refusal is final and names the failed claim.
 *
 * No key, share or document byte is ever in an error message or log.
 */
import { base64Encode, expectObject, fromHex, type JsonObject, MalformedError } from "@veritee/core";
import { CustodyError } from "../errors.js";
import {
  decodeAttestResponse,
  decodeChallengeResponse,
  decodeErrorBody,
  decodeReleaseResponse,
  MODEL_KEY_INFO,
  releaseAad,
} from "../protocol/index.js";
import { MODEL_KEY_BYTES } from "../sealed/stream.js";
import { combineModelKey, SHARE_BYTES } from "../shares.js";

/** What the attested server lends the release client: its attestation, its TPM, its HPKE key. */
export interface ReleaseAttester {
  /** The attestation document for `nonce`, encoded as `GET /v1/attestation` sends it. */
  attest(nonce: Uint8Array): Promise<Uint8Array>;
  /** Answer a credential activation request (the JSON of `POST /v1/attestation/activate`) with its response JSON. */
  activate(request: unknown): Promise<unknown>;
  /** Open a single-shot HPKE message sealed to the attested key set. */
  open(enc: Uint8Array, ciphertext: Uint8Array, info: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
}

/** Backoff of retried custodians. */
export interface RetryOptions {
  /** Attempts per custodian, the first included (default 8). */
  readonly attempts?: number;
  /** First delay in ms (default 250), doubled each time up to {@link maxDelayMs}. */
  readonly baseDelayMs?: number;
  /** Largest delay in ms (default 5000). */
  readonly maxDelayMs?: number;
  /** Time limit of one request in ms (default 30 000: the custodian verifies a quote and waits for a TPM). */
  readonly requestTimeoutMs?: number;
}

/** Options of {@link obtainModelKey}. */
export interface ObtainModelKeyOptions {
  /** The custodians' base URLs: one, or the n owners' (in any order; each share says its index). */
  readonly custodians: readonly string[];
  readonly deployment: string;
  /** The sealed file's threshold: 1 for a whole key, k for k of n. */
  readonly threshold: number;
  /** The model id the sealed header names: each custodian must release for this model. */
  readonly modelId: string;
  readonly attester: ReleaseAttester;
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
  readonly retry?: RetryOptions;
  /** Called before each retry (for a log line: custodian index, attempt, reason; no secrets). */
  readonly onRetry?: (event: { custodian: number; attempt: number; reason: string; delayMs: number }) => void;
}

/** One custodian's released secret. */
interface Released {
  readonly secret: Uint8Array;
  readonly shareIndex: number | undefined;
  readonly grant: LeaseGrant;
}

/** What a release gives besides the secret: the right to ask that custodian for leases. */
export interface LeaseGrant {
  /** The custodian's base URL. */
  readonly custodian: string;
  /** The release (its challenge id): what renewals name. */
  readonly release: string;
  /** The custodian's Ed25519 lease key (SPKI DER), authenticated by the release's AAD. */
  readonly leaseKey: Uint8Array;
}

/** A release: the model key and, per custodian that released, its lease grant. */
export interface ModelRelease {
  readonly key: Uint8Array;
  readonly grants: readonly LeaseGrant[];
}

const MAX_RESPONSE_BYTES = 1 << 20;

/** A failure worth retrying: the custodian is down, restarting or overloaded. */
class Transient extends Error {}

function describe(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "custodian";
  }
}

async function readJson(response: Response, what: string): Promise<JsonObject> {
  const text = await response.text();
  if (text.length > MAX_RESPONSE_BYTES) throw new CustodyError("bad-response", `${what}: the answer is too large`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new CustodyError("bad-response", `${what}: the answer is not JSON`, { cause });
  }
  try {
    return expectObject(value, what) as JsonObject;
  } catch (cause) {
    throw new CustodyError("bad-response", `${what}: the answer is not a JSON object`, { cause });
  }
}

/** A custodian's error answer as a typed error: refusals are final, 5xx and 429 are retried. */
async function failure(response: Response, what: string): Promise<Error> {
  if (response.status >= 500 || response.status === 429) {
    return new Transient(`${what}: HTTP ${response.status}`);
  }
  let code = "";
  let message = `HTTP ${response.status}`;
  let claim: string | undefined;
  try {
    const error = decodeErrorBody(await readJson(response, what));
    code = error.code;
    message = error.message.slice(0, 500);
    claim = error.claim;
  } catch {
    // An error without the documented body: the status says enough.
  }
  const known = new Set(["refused", "revoked", "not-found", "conflict", "invalid-request", "unauthorized"]);
  const typed = known.has(code) ? (code as "refused") : "refused";
  // The claim goes into the message too: it is what an operator reads to fix the deployment.
  const named = claim === undefined ? message : `${message} (failed claim ${claim})`;
  return new CustodyError(typed, `${what}: ${named}`, claim === undefined ? {} : { claim });
}

async function post(
  options: ObtainModelKeyOptions,
  base: string,
  route: string,
  body: JsonObject,
  what: string,
): Promise<JsonObject> {
  const doFetch = options.fetch ?? fetch;
  const timeout = AbortSignal.timeout(options.retry?.requestTimeoutMs ?? 30_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await doFetch(new URL(route, base.endsWith("/") ? base : `${base}/`), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal,
      redirect: "error",
    });
  } catch (cause) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new Transient(`${what}: ${(cause as Error).name === "TimeoutError" ? "timed out" : "unreachable"}`);
  }
  if (!response.ok) throw await failure(response, what);
  return readJson(response, what);
}

function decodeOrBadResponse<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (cause) {
    const detail = cause instanceof MalformedError ? cause.message : "malformed";
    throw new CustodyError("bad-response", `${what}: ${detail}`, { cause });
  }
}

/** One release from one custodian (no retries). */
async function releaseOnce(options: ObtainModelKeyOptions, base: string, index: number): Promise<Released> {
  const who = `custodian ${index + 1} (${describe(base)})`;
  const c = await post(options, base, "v1/release/challenge", { deployment: options.deployment }, `${who} challenge`);
  const { challengeId, nonce } = decodeOrBadResponse(`${who} challenge`, () => {
    const answer = decodeChallengeResponse(c);
    return { challengeId: answer.challengeId, nonce: fromHex(answer.nonce, "nonce") };
  });

  const document = await options.attester.attest(nonce);
  const a = await post(
    options,
    base,
    "v1/release/attest",
    { challengeId, document: base64Encode(document) },
    `${who} attest`,
  );
  const { activation } = decodeOrBadResponse(`${who} attest`, () => decodeAttestResponse(a));
  const proof = await options.attester.activate(activation);

  const r = await post(
    options,
    base,
    "v1/release/activate",
    { challengeId, proof: proof as JsonObject },
    `${who} activate`,
  );
  const answer = decodeOrBadResponse(`${who} activate`, () => decodeReleaseResponse(r));
  const released = {
    ...answer,
    shareIndex: answer.shareIndex,
    enc: answer.sealedKey.enc,
    ciphertext: answer.sealedKey.ciphertext,
  };
  if (released.deployment !== options.deployment) {
    throw new CustodyError("bad-response", `${who} released for another deployment`);
  }
  if (released.modelId !== options.modelId) {
    throw new CustodyError("bad-response", `${who} released the key of another model than the sealed file's`);
  }
  if (released.threshold !== options.threshold) {
    throw new CustodyError(
      "bad-response",
      `${who} says the threshold is ${released.threshold}; the sealed file says ${options.threshold}`,
    );
  }
  if ((options.threshold === 1) !== (released.shareIndex === undefined)) {
    throw new CustodyError("bad-response", `${who} released a share for a whole key, or a whole key for a share`);
  }
  // The context the custodian bound the key to: a key sealed for another challenge or deployment does not open.
  const aad = releaseAad(challengeId, options.deployment, options.modelId, released.leaseKey);
  let secret: Uint8Array;
  try {
    secret = await options.attester.open(
      released.enc,
      released.ciphertext,
      new TextEncoder().encode(MODEL_KEY_INFO),
      aad,
    );
  } catch (cause) {
    throw new CustodyError("bad-response", `${who}: the released key does not open with this server's key set`, {
      cause,
    });
  }
  const expected = options.threshold === 1 ? MODEL_KEY_BYTES : SHARE_BYTES;
  if (secret.length !== expected) {
    secret.fill(0);
    throw new CustodyError("bad-response", `${who}: the released secret is not ${expected} bytes`);
  }
  return {
    secret,
    shareIndex: released.shareIndex,
    grant: { custodian: base, release: challengeId, leaseKey: released.leaseKey },
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** One custodian, with retries of transient failures. */
async function releaseWithRetry(options: ObtainModelKeyOptions, index: number): Promise<Released> {
  const base = options.custodians[index]!;
  const attempts = options.retry?.attempts ?? 8;
  const baseDelay = options.retry?.baseDelayMs ?? 250;
  const maxDelay = options.retry?.maxDelayMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await releaseOnce(options, base, index);
    } catch (error) {
      if (!(error instanceof Transient)) throw error;
      if (attempt >= attempts) {
        throw new CustodyError("unreachable", `${error.message} after ${attempts} attempts`, { cause: error });
      }
      // Full jitter keeps a fleet of restarting servers from arriving at the custodian in step.
      const delayMs = Math.round(Math.random() * Math.min(maxDelay, baseDelay * 2 ** (attempt - 1)));
      options.onRetry?.({ custodian: index + 1, attempt, reason: error.message, delayMs });
      await sleep(delayMs, options.signal);
    }
  }
}

/**
 * Get the model key from the custodians: the whole key from one custodian
 * (threshold 1), or `threshold` shares from as many of them, combined.
 *
 * @throws CustodyError `refused` (with the failed claim), `revoked`,
 *   `not-found`, `unreachable` (after the retries), `bad-response`, and
 *   `not-enough-shares` naming every custodian's failure when fewer than
 *   `threshold` released.
 */
export async function obtainModelKey(options: ObtainModelKeyOptions): Promise<Uint8Array> {
  return (await obtainModelRelease(options)).key;
}

/**
 * {@link obtainModelKey}, with the lease grants of the custodians that released.
 *
 * @throws as {@link obtainModelKey}.
 */
export async function obtainModelRelease(options: ObtainModelKeyOptions): Promise<ModelRelease> {
  const n = options.custodians.length;
  if (n === 0) throw new CustodyError("invalid-request", "no custodian to ask");
  if (options.threshold === 1 && n !== 1) {
    throw new CustodyError("invalid-request", "a whole key (threshold 1) comes from one custodian");
  }
  if (options.threshold > n) {
    throw new CustodyError(
      "not-enough-shares",
      `the threshold is ${options.threshold} but only ${n} custodians are named`,
    );
  }
  if (options.threshold === 1) {
    const released = await releaseWithRetry(options, 0);
    return { key: released.secret, grants: [released.grant] };
  }

  // k of n: ask everyone, stop once k have released or k can no longer be reached (the rest are aborted).
  const stop = new AbortController();
  const asking = { ...options, signal: options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal };
  const shares = new Map<number, Uint8Array>();
  const grants: { index: number; grant: LeaseGrant }[] = [];
  const failures: string[] = [];
  await new Promise<void>((resolve) => {
    let settled = 0;
    const done = () => {
      settled++;
      if (shares.size >= options.threshold || n - failures.length < options.threshold || settled === n) {
        resolve();
        stop.abort();
      }
    };
    for (let i = 0; i < n; i++) {
      releaseWithRetry(asking, i).then(
        (released) => {
          if (shares.size < options.threshold && !shares.has(released.shareIndex!)) {
            shares.set(released.shareIndex!, released.secret);
            grants.push({ index: i, grant: released.grant });
          } else released.secret.fill(0);
          done();
        },
        (error: unknown) => {
          if (stop.signal.aborted) return;
          failures.push(error instanceof Error ? error.message : `custodian ${i + 1}: failed`);
          done();
        },
      );
    }
  });
  if (shares.size < options.threshold) {
    for (const s of shares.values()) s.fill(0);
    throw new CustodyError(
      "not-enough-shares",
      `${shares.size} of the ${options.threshold} shares needed were released: ${failures.join("; ")}`,
    );
  }
  const secrets = [...shares.values()];
  try {
    // In the order the custodians were named, so the lease comes from the same one each time (the first).
    const ordered = grants.sort((x, y) => x.index - y.index).map((g) => g.grant);
    return { key: await combineModelKey(secrets), grants: ordered };
  } finally {
    for (const s of secrets) s.fill(0);
  }
}
