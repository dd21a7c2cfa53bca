/**
 * `connect`: verify a server before anything of the user's leaves the
 * machine, then hand back a `fetch` that only talks to the attested keys.
 *
 *  1. the channel plan, from the URL and the policy (before any network use:
 *     a plan the policy forbids fails here);
 *  2. attestation with a fresh nonce, verification against the policy's
 *     trust anchors, credential activation (`attestServer`);
 *  3. the policy's appraisal (`evaluate`): every claim, expected and actual;
 *  4. the channel to the attested key set (sealed bodies to the attested
 *     HPKE key, and/or TLS pinned to the attested SPKI).
 *
 * Only then does `connect` resolve; `session.fetch` re-attests (fresh nonce)
 * when the freshness limit passes or the server's key set changes.
 */
import type { HpkeBackend } from "@veritee/channel";
import { toHex } from "@veritee/core";
import type { PlatformVerifyOptions, VerifiedAttestation, VerifiedGpuRim } from "@veritee/evidence";
import {
  type Appraisal,
  assertChannelModeAllowed,
  evaluate,
  isPolicy,
  type Policy,
  PolicyError,
  parsePolicy,
  parsePolicyJson,
  verificationInputs,
} from "@veritee/policy";
import { attestServer } from "./attest.js";
import { type ChannelPlan, openKeySetChannel, type PinnedTransport } from "./channel.js";
import { ClientError } from "./errors.js";
import { type AcceptedAttestation, ClientSession, type Session, type SessionDriver } from "./session.js";
import { Deadline, resolveTimeouts, type Timeouts } from "./timeouts.js";
import type { FetchLike } from "./transport.js";
import { resolveServerAddress, type ServerAddress } from "./url.js";

/** A step of {@link connect} that completed, for progress reports. */
export type ConnectStep =
  /** The attestation document verified: EK chain, quote over the fresh nonce and the key set, launch log. */
  | { readonly step: "verified"; readonly attestation: VerifiedAttestation }
  /** Credential activation proved the AK resident in the certified TPM. */
  | { readonly step: "ak-resident"; readonly attestation: VerifiedAttestation }
  /** The policy accepted every claim. */
  | { readonly step: "accepted"; readonly appraisal: Appraisal }
  /** The channel to the attested keys is ready. */
  | { readonly step: "channel"; readonly sealed: boolean; readonly attestedTls: boolean };

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The server's API root as the `openai` package takes it (`https://host/v1`); `/v1` is added when missing. */
  readonly baseURL: string;
  /** A policy from `@veritee/policy` (`parsePolicy`), its parsed JSON, or its JSON text. */
  readonly policy: Policy | string | object;
  /** The transport for attestation and for sealed requests (default: the global `fetch`). */
  readonly fetch?: FetchLike;
  /** The clock for certificate validity and freshness (default: the system clock). */
  readonly now?: () => Date;
  /**
   * Seal request and response bodies with HPKE to the attested key. Default:
   * whenever the policy allows `"sealed"` — a proxy in between can never be
   * excluded. `false` (with `"attested-tls"` allowed and an https URL) sends
   * bodies inside the pinned TLS connection only.
   */
  readonly sealed?: boolean;
  /**
   * Attested TLS for https URLs: makes a `fetch` whose connections accept only
   * the attested SPKI. Node: `attestedTls` from `@veritee/client/node` (its
   * `connect` passes it for you). Without it (a browser), https requests use
   * the platform's TLS and rely on sealing.
   */
  readonly attestedTls?: PinnedTransport;
  /** The HPKE backend for sealing (default: WebCrypto; `@veritee/client/node` passes the faster Node one). */
  readonly hpkeBackend?: HpkeBackend;
  /** Aborts the first attestation. */
  readonly signal?: AbortSignal;
  /**
   * Time limits in milliseconds (docs/CLIENT.md, "Timeouts"): `connectMs`
   * for each attestation request's response headers (default 10 s),
   * `attestationMs` for a whole attestation (default 30 s), `requestMs` for a
   * `session.fetch` response and then each gap in its body (default 120 s).
   * Past one, the exchange is cancelled and the call rejects with
   * `ClientError("timeout")`, whose `phase` names the limit.
   */
  readonly timeouts?: Timeouts;
  /** Called after each step that passed, at `connect` and at every re-attestation. Must not throw. */
  readonly onProgress?: (step: ConnectStep) => void;
  /**
   * Verifier options for the document's platform evidence: AMD roots and
   * CRL, TDX collateral (required to accept a server that sends a TDX quote:
   * given, or from a `collateral` source such as `cachedCollateral(directoryCollateral(dir), …)`),
   * NVIDIA roots, and RIMs for GPU rules with `measurements: "from-rim"`.
   * Which evidence is required is the policy's `platform` section.
   */
  readonly platform?: PlatformVerifyOptions & { readonly nvidiaRims?: readonly VerifiedGpuRim[] };
}

/**
 * Verify the server at `baseURL` against `policy` and open the attested
 * channel. Nothing of the user's is sent before this resolves, and with
 * sealing nothing of it is ever sent in the clear.
 *
 * @throws PolicyError `invalid-policy` (kind `usage`) for a policy that does
 *   not validate; `channel-mode-not-allowed` when the URL and the policy
 *   leave no allowed channel (e.g. http with attested TLS only);
 *   ClientError `invalid-options` for bad `timeouts`;
 *   MalformedError, VerificationError, ClientError from attestation
 *   (`timeout` when a limit passed);
 *   PolicyError (kind `policy`) when the policy refuses a claim — its
 *   `appraisal` lists every claim and its message names the measurement
 *   with expected and actual values; ChannelError when the channel cannot be
 *   set up.
 * @example
 * import OpenAI from "openai";
 * import { connect } from "@veritee/client/node";
 * const session = await connect({ baseURL: "https://inference.example/v1", policy: policyJsonText });
 * const openai = new OpenAI({ baseURL: session.baseURL, apiKey: "…", fetch: session.fetch });
 */
export async function connect(options: ConnectOptions): Promise<Session> {
  const policy = loadPolicy(options.policy);
  const address = resolveServerAddress(options.baseURL);
  const plan = planChannel(address, policy, options);
  const timeouts = resolveTimeouts(options.timeouts);
  const fetchFn = options.fetch ?? defaultFetch();
  const now = options.now ?? (() => new Date());
  const inputs = verificationInputs(policy);
  const progress = options.onProgress ?? (() => undefined);

  // With attested TLS the document comes over TLS that pins nothing yet (it proves itself); credential
  // activation then goes over a connection pinned to the attested key, so a wrong pin fails in connect.
  const pinned = plan.pinned;
  const attestationFetch = pinned ? pinned.unpinned(address) : fetchFn;

  const driver: SessionDriver = {
    attest: async (callerSignal) => {
      const at = now();
      // One limit for the whole attestation (a server that answers headers and then stalls the body included).
      const limit = new Deadline(timeouts.attestationMs, "attestation", callerSignal);
      const signal = limit.signal;
      const oneOff: { close(): Promise<void> }[] = [];
      const activationFetch = pinned
        ? (verified: VerifiedAttestation) => {
            const p = pinned.pinned(address, verified.keySet.tlsSpki, { keepAlive: false });
            oneOff.push(p);
            return p.fetch;
          }
        : undefined;
      let attestation: VerifiedAttestation;
      try {
        attestation = await attestServer({
          apiRoot: address.apiRoot,
          fetch: attestationFetch,
          trust: options.platform ? { ...inputs, platform: options.platform } : inputs,
          at,
          signal,
          connectTimeoutMs: timeouts.connectMs,
          onVerified: (verified) => progress({ step: "verified", attestation: verified }),
          ...(activationFetch ? { activationFetch } : {}),
        });
      } finally {
        limit.disarm();
        for (const p of oneOff.splice(0)) await p.close().catch(() => undefined);
      }
      progress({ step: "ak-resident", attestation });
      const rims = options.platform?.nvidiaRims;
      const appraisal = evaluate(attestation, policy, { now: now(), ...(rims ? { nvidiaRims: rims } : {}) });
      progress({ step: "accepted", appraisal });
      const accepted: AcceptedAttestation = {
        attestation,
        appraisal,
        keySetDigest: toHex(attestation.keySetDigest),
        verifiedAt: at.getTime(),
      };
      return accepted;
    },
    openChannel: (accepted) => openKeySetChannel(plan, accepted, fetchFn),
  };

  const first = await driver.attest(options.signal);
  const channel = await driver.openChannel(first);
  progress({ step: "channel", sealed: channel.info.sealed, attestedTls: channel.info.attestedTls });
  return new ClientSession({
    address,
    driver,
    now,
    maxAgeSeconds: policy.freshness.maxAgeSeconds,
    requestTimeoutMs: timeouts.requestMs,
    first,
    channel,
  });
}

/** A validated policy from any of the accepted forms. */
function loadPolicy(input: Policy | string | object): Policy {
  if (isPolicy(input)) return input;
  if (typeof input === "string") return parsePolicyJson(input);
  return parsePolicy(input);
}

function defaultFetch(): FetchLike {
  if (typeof globalThis.fetch !== "function") {
    throw new ClientError("invalid-options", "no global fetch: pass options.fetch");
  }
  return globalThis.fetch.bind(globalThis);
}

/**
 * Decide the channel before touching the network. Sealing whenever the
 * policy allows it (unless `sealed: false`); attested TLS for https URLs
 * when the policy allows it and a pinning transport is available. At least
 * one of the two must hold: no request ever goes out over a channel the
 * policy does not allow or that nothing protects.
 */
function planChannel(address: ServerAddress, policy: Policy, options: ConnectOptions): ChannelPlan {
  const modes = policy.channel.modes;
  if (options.sealed === true) assertChannelModeAllowed(policy, "sealed");
  const sealed = options.sealed ?? modes.includes("sealed");
  const attestedTls = address.https && modes.includes("attested-tls") && options.attestedTls !== undefined;
  if (!sealed && !attestedTls) {
    const why = !modes.includes("attested-tls")
      ? "the policy allows only sealed bodies, and sealing was turned off"
      : !address.https
        ? "attested TLS needs an https URL"
        : "attested TLS needs a pinning transport (options.attestedTls; @veritee/client/node)";
    throw new PolicyError("channel-mode-not-allowed", `no allowed channel: ${why}`);
  }
  return {
    address,
    sealed,
    ...(attestedTls ? { pinned: options.attestedTls! } : {}),
    ...(options.hpkeBackend ? { backend: options.hpkeBackend } : {}),
  };
}
