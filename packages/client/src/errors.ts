/**
 * The client's own failure class. Everything `connect` and `session.fetch`
 * reject with is one of five typed classes, each with its own `kind` (and
 * CLI exit code):
 *
 * - `MalformedError` (`@veritee/core`, kind `malformed`): the server's
 *   evidence (attestation document, activation response) does not decode;
 * - `VerificationError` (`@veritee/evidence`, kind `verification`): the
 *   evidence decoded but a cryptographic or consistency check failed;
 * - `PolicyError` (`@veritee/policy`, kind `policy`): the evidence is
 *   genuine but the policy does not accept what it says (or the policy
 *   document itself is invalid);
 * - `ChannelError` (`@veritee/channel`, kind `channel`): the attested channel
 *   failed (a pinned TLS certificate that is not the attested one, a sealed
 *   frame that does not open);
 * - {@link ClientError} (kind `client`): the server could not be reached or
 *   did not follow the protocol, or the SDK was used wrongly.
 *
 * An abort through the caller's `AbortSignal` rejects with the signal's
 * reason, as `fetch` does. Messages carry no user data.
 */
import { VeriteeError } from "@veritee/core";

/** Why the client failed outside evidence, policy and channel checks. A closed union. */
export type ClientErrorCode =
  /** A bad argument to `connect` (base URL, options). */
  | "invalid-options"
  /** The server did not answer (DNS, connection refused, TLS handshake failure before any pinning). */
  | "unreachable"
  /** The attestation endpoint answered with an error status. */
  | "attestation-unavailable"
  /** The credential-activation endpoint answered with an error status other than a TPM refusal. */
  | "activation-failed"
  /** `session.fetch` was asked for a URL outside the attested server's API root. */
  | "foreign-url"
  /** `session.fetch` was called after `session.close()`. */
  | "session-closed"
  /** An inference request the caller made through the session failed with an HTTP error (CLI use). */
  | "request-failed"
  /** The server kept answering with key sets it did not hold, or kept changing them, beyond the retry bound. */
  | "reattestation-exhausted"
  /** The server did not answer within a time limit (`connect`'s `timeouts`); `phase` names which one. */
  | "timeout";

/**
 * Which limit a `timeout` passed: `connect` (an attestation request's
 * response headers), `attestation` (one whole attestation), `request` (a
 * `session.fetch` response, or a gap in its body).
 */
export type TimeoutPhase = "connect" | "attestation" | "request";

/** The server could not be reached or did not follow the protocol, or the SDK was misused. */
export class ClientError extends VeriteeError<ClientErrorCode> {
  readonly kind = "client" as const;
  /** The HTTP status the server answered with, when the failure is an HTTP error. */
  readonly status: number | undefined;
  /** For `timeout`: the limit that passed. */
  readonly phase: TimeoutPhase | undefined;

  constructor(
    code: ClientErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number; phase?: TimeoutPhase },
  ) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = options?.status;
    this.phase = options?.phase;
  }
}
