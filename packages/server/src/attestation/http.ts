/**
 * Framework-agnostic handlers for the attestation endpoints. Each returns
 * the status, headers and the exact body text to send; the HTTP layer mounts
 * them:
 *
 * - `GET /v1/attestation?nonce=HEX` → {@link handleAttestationRequest}
 * - `POST /v1/attestation/activate` (JSON body) → {@link handleActivateRequest}
 *
 * Errors use the OpenAI error shape `{"error":{"message","type","param","code"}}`.
 * Bodies carry no request data, and nothing here logs.
 */
import { fromHex } from "@veritee/core";
import {
  activationResponseToJson,
  canonicalJson,
  decodeActivationRequest,
  encodeAttestationDocument,
  NONCE_LENGTH,
} from "@veritee/evidence";
import type { Attester } from "./attester.js";
import { AttestationError } from "./errors.js";

/** What a handler answers. Send `body` byte for byte: it is canonical JSON that clients may check as such. */
export interface AttestationHandlerResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON body text. */
  readonly body: string;
}

const HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-type": "application/json",
  // A document answers one nonce; no cache may serve it for another.
  "cache-control": "no-store",
});

/** The OpenAI error types used here. */
type OpenAiErrorType = "invalid_request_error" | "server_error";

/**
 * An OpenAI-style error response.
 *
 * @example
 * openAiError(400, "invalid_request_error", "nonce must be hex", "nonce", "invalid_nonce");
 */
export function openAiError(
  status: number,
  type: OpenAiErrorType,
  message: string,
  param: string | null,
  code: string,
): AttestationHandlerResponse {
  return { status, headers: HEADERS, body: canonicalJson({ error: { message, type, param, code } }) };
}

const NONCE_HEX = new RegExp(`^(?:[0-9a-fA-F]{2}){${NONCE_LENGTH.min},${NONCE_LENGTH.max}}$`);
const NONCE_MESSAGE = `nonce must be ${NONCE_LENGTH.min}-${NONCE_LENGTH.max} random bytes in hex (${2 * NONCE_LENGTH.min}-${2 * NONCE_LENGTH.max} hex digits), given once`;

function unavailable(error: unknown): AttestationHandlerResponse {
  if (error instanceof AttestationError && error.code === "closed") {
    return openAiError(503, "server_error", "the server is shutting down", null, "attestation_unavailable");
  }
  return openAiError(503, "server_error", "attestation is unavailable", null, "attestation_unavailable");
}

/**
 * `GET /v1/attestation?nonce=HEX`: 200 with the attestation document for the
 * nonce; 400 `invalid_nonce` when the nonce is missing, repeated, not hex, or
 * not 16–64 bytes; 503 when the TPM fails.
 *
 * @example
 * const r = await handleAttestationRequest(attester, new URL(req.url, "http://x").searchParams);
 * res.writeHead(r.status, r.headers).end(r.body);
 */
export async function handleAttestationRequest(
  attester: Attester,
  searchParams: URLSearchParams,
): Promise<AttestationHandlerResponse> {
  const values = searchParams.getAll("nonce");
  if (values.length !== 1 || !NONCE_HEX.test(values[0]!)) {
    return openAiError(400, "invalid_request_error", NONCE_MESSAGE, "nonce", "invalid_nonce");
  }
  try {
    const doc = await attester.attest(fromHex(values[0]!, "nonce"));
    return { status: 200, headers: HEADERS, body: new TextDecoder().decode(encodeAttestationDocument(doc)) };
  } catch (error) {
    if (error instanceof AttestationError && error.code === "bad-nonce") {
      return openAiError(400, "invalid_request_error", NONCE_MESSAGE, "nonce", "invalid_nonce");
    }
    return unavailable(error);
  }
}

/**
 * `POST /v1/attestation/activate` with body `{"credentialBlob": b64,
 * "encryptedSecret": b64, "nonce": b64, "version": 2}` (already parsed JSON):
 * 200 `{"proof": b64, "serverNonce": b64, "version": 2}`; 400
 * `invalid_activation_request` for a malformed (or version 1) body; 400
 * `activation_challenge_unknown` when no attestation awaits activation for
 * the nonce (never attested, already activated); 400
 * `activation_challenge_expired`; 400 `credential_rejected` when the TPM
 * refuses the credential (made for another TPM or another AK); 429
 * `activation_busy` with Retry-After; 503 when the TPM fails.
 */
export async function handleActivateRequest(attester: Attester, body: unknown): Promise<AttestationHandlerResponse> {
  let request: ReturnType<typeof decodeActivationRequest>;
  try {
    request = decodeActivationRequest(body);
  } catch {
    return openAiError(
      400,
      "invalid_request_error",
      "the body must be {credentialBlob, encryptedSecret, nonce, version: 2}, binary members base64 (docs/ATTESTATION.md)",
      null,
      "invalid_activation_request",
    );
  }
  try {
    const answer = await attester.activateCredential(request);
    return { status: 200, headers: HEADERS, body: canonicalJson(activationResponseToJson(answer)) };
  } catch (error) {
    if (!(error instanceof AttestationError)) return unavailable(error);
    switch (error.code) {
      case "credential-rejected":
        return openAiError(
          400,
          "invalid_request_error",
          "the TPM refused the credential: it was not made for this server's EK and AK",
          null,
          "credential_rejected",
        );
      case "activation-unknown":
        return openAiError(
          400,
          "invalid_request_error",
          "no attestation awaits activation for this nonce: attest with it first; each attestation activates once",
          "nonce",
          "activation_challenge_unknown",
        );
      case "activation-expired":
        return openAiError(
          400,
          "invalid_request_error",
          "the attestation for this nonce is too old to activate: attest again",
          "nonce",
          "activation_challenge_expired",
        );
      case "busy":
        return {
          ...openAiError(429, "invalid_request_error", "too many credential activations", null, "activation_busy"),
          headers: { ...HEADERS, "retry-after": "1" },
        };
      default:
        return unavailable(error);
    }
  }
}
