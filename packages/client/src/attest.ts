/**
 * Attesting a server (docs/ATTESTATION.md): a fresh 32-byte nonce → the
 * attestation document → `verifyAttestationDocument` with the policy's trust
 * anchors → credential activation (`challengeAk` → `POST
 * /v1/attestation/activate` → `confirmAkResidency`). Nothing but the nonce
 * and the credential challenge leaves the client here, and neither is user
 * data. Policy evaluation is the caller's next step.
 */
import { MalformedError, randomBytes, toHex } from "@veritee/core";
import {
  ATTESTATION_DOCUMENT_LIMITS,
  challengeAk,
  confirmAkResidency,
  decodeActivationResponse,
  type PlatformVerifyOptions,
  parseJsonBytes,
  VerificationError,
  type VerifiedAttestation,
  verifyAttestationDocument,
} from "@veritee/evidence";
import { BodyTooLargeError, discardBody, readBounded, readErrorCode } from "./body.js";
import { ClientError } from "./errors.js";
import { type FetchLike, retryAfterSeconds, send, sleep } from "./transport.js";

/** The nonce size the client uses: 32 bytes from the CSPRNG (the protocol allows 16–64). */
export const CLIENT_NONCE_BYTES = 32;

/** An activation response is `{"proof": b64, "serverNonce": b64, "version": 2}`, 32 bytes each; 4 KiB is ample. */
const MAX_ACTIVATION_RESPONSE = 4096;
/** Activation is rate limited by the server (one TPM operation each); wait at most this often and this long. */
const ACTIVATION_RETRIES = 3;
const MAX_RETRY_AFTER_SECONDS = 2;

/** Trust material for verifying a document, taken from the policy. */
export interface AttestationTrust {
  /** EK root CAs (DER). */
  readonly ekRoots: readonly Uint8Array[];
  /** Extra intermediate CAs (DER) for building the EK path. */
  readonly ekIntermediates?: readonly Uint8Array[];
  /** The application PCR the launch log is extended into. */
  readonly appPcr?: number;
  /** The SHA-256 boot PCRs the quote must cover. */
  readonly bootPcrs?: readonly number[];
  /** Trust anchors and collateral for platform evidence (SEV-SNP, TDX, NVIDIA GPUs); see `verifyAttestationDocument`. */
  readonly platform?: PlatformVerifyOptions;
}

/** Inputs to {@link attestServer}. */
export interface AttestServerOptions {
  /** The API root, e.g. `http://127.0.0.1:8080/v1` (no trailing slash). */
  readonly apiRoot: string;
  readonly fetch: FetchLike;
  readonly trust: AttestationTrust;
  /** The time to validate certificates at. */
  readonly at: Date;
  readonly signal?: AbortSignal;
  /** Called once the document verified, before credential activation. Must not throw. */
  readonly onVerified?: (verified: VerifiedAttestation) => void;
  /**
   * The transport for credential activation, chosen once the key set is
   * verified (attested TLS pins the attested SPKI here, so a pin failure
   * shows before `connect` resolves). Default: `fetch`.
   */
  readonly activationFetch?: (verified: VerifiedAttestation) => FetchLike;
  /**
   * The most to wait for each response's headers (the document, the
   * activation), in milliseconds; then `ClientError("timeout")`, phase
   * `connect`. Default: no limit of its own (`connect` passes 10 s). The
   * whole attestation is limited through `signal`.
   */
  readonly connectTimeoutMs?: number;
}

/**
 * Attest the server at `apiRoot` with a fresh nonce and prove its AK resident
 * in the certified TPM. Every call uses a new nonce.
 *
 * @returns a `VerifiedAttestation` with `akResidency: "credential-activation"`.
 * @throws MalformedError (the document or the activation response does not
 *   decode, or is too large), VerificationError (any verification step;
 *   `credential-mismatch` when the server's TPM refuses or answers the
 *   challenge wrongly), ClientError (`unreachable`,
 *   `attestation-unavailable`, `activation-failed`, `timeout`).
 * @example
 * const verified = await attestServer({ apiRoot, fetch, trust: { ekRoots }, at: new Date() });
 */
export async function attestServer(options: AttestServerOptions): Promise<VerifiedAttestation> {
  const nonce = randomBytes(CLIENT_NONCE_BYTES);
  const signal = options.signal;
  const init = (extra: RequestInit): RequestInit => (signal ? { ...extra, signal } : extra);
  const headerTimeout =
    options.connectTimeoutMs === undefined ? undefined : { ms: options.connectTimeoutMs, phase: "connect" as const };

  const response = await send(
    options.fetch,
    `${options.apiRoot}/attestation?nonce=${toHex(nonce)}`,
    init({ method: "GET", headers: { accept: "application/json" } }),
    "attestation",
    headerTimeout,
  );
  if (response.status !== 200) {
    await discardBody(response);
    throw new ClientError("attestation-unavailable", `the attestation endpoint answered HTTP ${response.status}`, {
      status: response.status,
    });
  }
  let documentBytes: Uint8Array;
  try {
    documentBytes = await readBounded(response, ATTESTATION_DOCUMENT_LIMITS.maxBytes, signal);
  } catch (error) {
    throw mapBodyError(error, "AttestationDocument", "attestation", signal);
  }
  const verified = await verifyAttestationDocument(documentBytes, {
    nonce,
    at: options.at,
    ekRoots: options.trust.ekRoots,
    ...(options.trust.ekIntermediates ? { ekIntermediates: options.trust.ekIntermediates } : {}),
    ...(options.trust.appPcr === undefined ? {} : { appPcr: options.trust.appPcr }),
    ...(options.trust.bootPcrs ? { bootPcrs: options.trust.bootPcrs } : {}),
    ...(options.trust.platform ? { platform: options.trust.platform } : {}),
  });

  options.onVerified?.(verified);

  // Credential activation: the AK that signed the quote lives in the TPM whose EK is certified.
  const activationFetch = options.activationFetch?.(verified) ?? options.fetch;
  const challenge = await challengeAk(verified);
  const body = JSON.stringify(challenge);
  for (let attempt = 0; ; attempt++) {
    const answer = await send(
      activationFetch,
      `${options.apiRoot}/attestation/activate`,
      init({ method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body }),
      "credential activation",
      headerTimeout,
    );
    if (answer.status === 200) {
      let bytes: Uint8Array;
      try {
        bytes = await readBounded(answer, MAX_ACTIVATION_RESPONSE, signal);
      } catch (error) {
        throw mapBodyError(error, "ActivationResponse", "credential activation", signal);
      }
      const proof = decodeActivationResponse(
        parseJsonBytes(bytes, "ActivationResponse", { maxBytes: MAX_ACTIVATION_RESPONSE }),
      );
      return confirmAkResidency(verified, challenge, proof);
    }
    const wait = answer.status === 429 ? retryAfterSeconds(answer, MAX_RETRY_AFTER_SECONDS) : undefined;
    if (wait !== undefined && attempt < ACTIVATION_RETRIES) {
      await discardBody(answer);
      await sleep(Math.max(wait, 0.1) * 1000, signal);
      continue;
    }
    if (answer.status === 400 && (await readErrorCode(answer, signal)) === "credential_rejected") {
      // The server's TPM could not activate a credential made for the certified EK and this AK's Name.
      throw new VerificationError(
        "credential-mismatch",
        "the server's TPM refused the credential: the AK is not resident in the certified TPM",
      );
    }
    await discardBody(answer);
    throw new ClientError("activation-failed", `the activation endpoint answered HTTP ${answer.status}`, {
      status: answer.status,
    });
  }
}

function mapBodyError(error: unknown, what: string, step: string, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason ?? error;
  if (error instanceof BodyTooLargeError) {
    return new MalformedError("too-large", what, "the response exceeds its size bound", { cause: error });
  }
  return new ClientError("unreachable", `${step}: the response body could not be read`, { cause: error });
}
