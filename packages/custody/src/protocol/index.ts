/**
 * The custodian's wire protocol (docs/CUSTODY.md "Custodian API"): the JSON
 * bodies of the admin API and of the release exchange, with strict decoders
 * used by both ends — the custodian decodes requests with them, the admin
 * client and the release client decode answers with them. Every decoder
 * takes parsed JSON, accepts exactly the documented members (an unknown
 * member is an error, so nobody sends a field the other side ignores) and
 * throws `MalformedError` naming the member, never quoting a secret.
 */
import {
  base64Decode,
  base64Encode,
  canonicalJsonBytes,
  expectArray,
  expectHexDigest,
  expectInteger,
  expectObject,
  expectText,
  MalformedError,
} from "@veritee/core";
import { expectObjectId, members } from "./shape.js";

export { expectObjectId, members, OBJECT_ID } from "./shape.js";

/** A whole model key is 32 bytes; a Shamir share of it is 33 (the share's x coordinate appended). */
export const MODEL_SECRET_BYTES: readonly number[] = Object.freeze([32, 33]);
/** Most policies one deployment lists (one per replica configuration). */
export const MAX_DEPLOYMENT_POLICIES = 16;
/** Most owners (and so the highest threshold and share index) a sealed file names. */
export const MAX_OWNERS = 16;
/** A release challenge's lifetime, in seconds. */
export const CHALLENGE_TTL_SECONDS = 60;
/** The HPKE `info` of a released model secret. */
export const MODEL_KEY_INFO = "veritee-model-key-v1";
/** Largest audit page. */
export const MAX_AUDIT_PAGE = 1000;

/** The kinds of audit event. */
export const AUDIT_TYPES = [
  "release",
  "refusal",
  "revocation",
  "model-added",
  "deployment-added",
  "consumer-added",
  "consumer-revoked",
  "supply",
  "throttle",
  "owners-set",
  "revocation-lifted",
  "policy-changed",
] as const;
/** An audit event's kind. */
export type AuditType = (typeof AUDIT_TYPES)[number];

function optionalInteger(obj: Readonly<Record<string, unknown>>, name: string, what: string, min: number, max: number) {
  return Object.hasOwn(obj, name) ? expectInteger(obj[name], `${what}.${name}`, min, max) : undefined;
}

/** `POST /v1/admin/models`: register a model key (threshold 1) or this custodian's share of it. */
export interface ModelAddRequest {
  readonly id: string;
  readonly plaintextSha256: string;
  readonly sealedSha256?: string;
  /** 32-byte key or 33-byte share. */
  readonly secret: Uint8Array;
  /** 1-based share index, present exactly when threshold ≥ 2. */
  readonly shareIndex?: number;
  /** Shares needed to open the model (default 1). */
  readonly threshold: number;
}

/** The JSON body of a {@link ModelAddRequest}. */
export function modelAddRequestToJson(request: ModelAddRequest): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: request.id,
    plaintextSha256: request.plaintextSha256,
    secret: base64Encode(request.secret),
    threshold: request.threshold,
  };
  if (request.sealedSha256 !== undefined) json.sealedSha256 = request.sealedSha256;
  if (request.shareIndex !== undefined) json.shareIndex = request.shareIndex;
  return json;
}

/**
 * Decode a model registration: a whole key (32 bytes, threshold 1, no share
 * index) or a share (33 bytes, threshold 2..16, share index 1..16).
 *
 * @throws MalformedError naming the member.
 */
export function decodeModelAddRequest(value: unknown): ModelAddRequest {
  const what = "ModelAddRequest";
  const o = members(value, what, ["id", "plaintextSha256", "secret"], ["sealedSha256", "shareIndex", "threshold"]);
  const threshold = optionalInteger(o, "threshold", what, 1, MAX_OWNERS) ?? 1;
  const shareIndex = optionalInteger(o, "shareIndex", what, 1, MAX_OWNERS);
  const secret = base64Decode(o.secret, `${what}.secret`, 33);
  const whole = threshold === 1;
  if (secret.length !== (whole ? 32 : 33)) {
    throw new MalformedError("bad-length", `${what}.secret`, whole ? "a model key is 32 bytes" : "a share is 33 bytes");
  }
  if (whole !== (shareIndex === undefined)) {
    throw new MalformedError("bad-value", `${what}.shareIndex`, "a share (threshold ≥ 2) has a shareIndex, a key none");
  }
  return Object.freeze({
    id: expectObjectId(o.id, `${what}.id`),
    plaintextSha256: expectHexDigest(o.plaintextSha256, `${what}.plaintextSha256`, 32),
    ...(Object.hasOwn(o, "sealedSha256")
      ? { sealedSha256: expectHexDigest(o.sealedSha256, `${what}.sealedSha256`, 32) }
      : {}),
    secret,
    ...(shareIndex === undefined ? {} : { shareIndex }),
    threshold,
  });
}

/** A model as the admin API lists it: never its secret. */
export interface ModelInfo {
  readonly id: string;
  readonly plaintextSha256: string;
  readonly sealedSha256: string | null;
  readonly threshold: number;
  readonly shareIndex: number | null;
  readonly createdAt: string;
}

/** Decode one listed model (the admin client's side). */
export function decodeModelInfo(value: unknown): ModelInfo {
  const what = "ModelInfo";
  const o = members(value, what, ["id", "plaintextSha256", "sealedSha256", "threshold", "shareIndex", "createdAt"]);
  return Object.freeze({
    id: expectObjectId(o.id, `${what}.id`),
    plaintextSha256: expectHexDigest(o.plaintextSha256, `${what}.plaintextSha256`, 32),
    sealedSha256: o.sealedSha256 === null ? null : expectHexDigest(o.sealedSha256, `${what}.sealedSha256`, 32),
    threshold: expectInteger(o.threshold, `${what}.threshold`, 1, MAX_OWNERS),
    shareIndex: o.shareIndex === null ? null : expectInteger(o.shareIndex, `${what}.shareIndex`, 1, MAX_OWNERS),
    createdAt: expectText(o.createdAt, `${what}.createdAt`, 64),
  });
}

/** `POST /v1/admin/deployments`: a deployment of a model and the policies its servers must satisfy. */
export interface DeploymentAddRequest {
  readonly id: string;
  readonly modelId: string;
  /** Policy documents (parsed JSON; the custodian validates them with `parsePolicy`). */
  readonly policies: readonly unknown[];
}

/** Decode a deployment registration (the policies are checked as policies by the custodian). */
export function decodeDeploymentAddRequest(value: unknown): DeploymentAddRequest {
  const what = "DeploymentAddRequest";
  const o = members(value, what, ["id", "modelId", "policies"]);
  const policies = expectArray(o.policies, `${what}.policies`, MAX_DEPLOYMENT_POLICIES);
  if (policies.length === 0) throw new MalformedError("bad-value", `${what}.policies`, "at least one policy");
  return Object.freeze({
    id: expectObjectId(o.id, `${what}.id`),
    modelId: expectObjectId(o.modelId, `${what}.modelId`),
    policies: Object.freeze([...policies]),
  });
}

/** A deployment as the admin API lists it. */
export interface DeploymentInfo {
  readonly id: string;
  readonly modelId: string;
  readonly policies: readonly unknown[];
  readonly revoked: boolean;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

/** One audit trail entry. Never holds a secret. */
export interface AuditEvent {
  /** Position in the trail: strictly increasing. */
  readonly seq: number;
  /** ISO 8601 time of the event. */
  readonly at: string;
  readonly type: AuditType;
  readonly deployment?: string;
  readonly model?: string;
  /** The failed claim of a refusal (a policy claim path, or a verification step). */
  readonly claim?: string;
  /** A short reason (an error code and message; never a secret). */
  readonly reason?: string;
  /** The peer address the request came from. */
  readonly peer?: string;
  /** The consumer a `consumer-added` or `consumer-revoked` event is about. */
  readonly consumer?: string;
}

/** Decode one audit event (the admin client's side). */
export function decodeAuditEvent(value: unknown): AuditEvent {
  const what = "AuditEvent";
  const o = members(value, what, ["seq", "at", "type"], ["deployment", "model", "claim", "reason", "peer", "consumer"]);
  const type = o.type;
  if (typeof type !== "string" || !(AUDIT_TYPES as readonly string[]).includes(type)) {
    throw new MalformedError("bad-value", `${what}.type`, "not an audit event type");
  }
  const text = (name: string, max: number) =>
    Object.hasOwn(o, name) ? { [name]: expectText(o[name], `${what}.${name}`, max) } : {};
  return Object.freeze({
    seq: expectInteger(o.seq, `${what}.seq`, 1, Number.MAX_SAFE_INTEGER),
    at: expectText(o.at, `${what}.at`, 64),
    type: type as AuditType,
    ...text("deployment", 128),
    ...text("model", 128),
    ...text("claim", 256),
    ...text("reason", 1024),
    ...text("peer", 256),
    ...text("consumer", 128),
  });
}

/** `POST /v1/admin/deployments/{id}/consumers` body: the new consumer's id. */
export interface ConsumerAddRequest {
  readonly id: string;
}

/** Decode a consumer registration. */
export function decodeConsumerAddRequest(value: unknown): ConsumerAddRequest {
  const o = members(value, "ConsumerAddRequest", ["id"]);
  return Object.freeze({ id: expectObjectId(o.id, "ConsumerAddRequest.id") });
}

/**
 * A consumer's API key: `vtk_` and 32 random bytes in base64url (256 bits,
 * so a key cannot be guessed and its SHA-256 is all the custodian stores).
 */
export const CONSUMER_KEY = /^vtk_[A-Za-z0-9_-]{43}$/;

/** The answer to a consumer registration: the API key, shown once. */
export interface ConsumerAddResponse {
  readonly deployment: string;
  readonly id: string;
  readonly apiKey: string;
}

/** Decode a consumer registration's answer (the admin client's side). */
export function decodeConsumerAddResponse(value: unknown): ConsumerAddResponse {
  const what = "ConsumerAddResponse";
  const o = members(value, what, ["deployment", "id", "apiKey"]);
  if (typeof o.apiKey !== "string" || !CONSUMER_KEY.test(o.apiKey)) {
    throw new MalformedError("bad-value", `${what}.apiKey`, "not a consumer key");
  }
  return Object.freeze({
    deployment: expectObjectId(o.deployment, `${what}.deployment`),
    id: expectObjectId(o.id, `${what}.id`),
    apiKey: o.apiKey,
  });
}

/** A consumer as the admin API lists it: never its key. */
export interface ConsumerInfo {
  readonly deployment: string;
  readonly id: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

/** Decode one listed consumer. */
export function decodeConsumerInfo(value: unknown): ConsumerInfo {
  const what = "ConsumerInfo";
  const o = members(value, what, ["deployment", "id", "createdAt", "revokedAt"]);
  return Object.freeze({
    deployment: expectObjectId(o.deployment, `${what}.deployment`),
    id: expectObjectId(o.id, `${what}.id`),
    createdAt: expectText(o.createdAt, `${what}.createdAt`, 64),
    revokedAt: o.revokedAt === null ? null : expectText(o.revokedAt, `${what}.revokedAt`, 64),
  });
}

/** `POST /v1/release/challenge` body. */
export interface ChallengeRequest {
  readonly deployment: string;
}

/** Decode a challenge request. */
export function decodeChallengeRequest(value: unknown): ChallengeRequest {
  const o = members(value, "ChallengeRequest", ["deployment"]);
  return Object.freeze({ deployment: expectObjectId(o.deployment, "ChallengeRequest.deployment") });
}

/** The custodian's challenge: the id to quote later and the nonce the attestation must answer. */
export interface ChallengeResponse {
  /** 16 bytes, lower-case hex. */
  readonly challengeId: string;
  /** 32 bytes, lower-case hex. */
  readonly nonce: string;
  readonly expiresIn: number;
}

/** Decode a challenge response (the release client's side). */
export function decodeChallengeResponse(value: unknown): ChallengeResponse {
  const what = "ChallengeResponse";
  const o = members(value, what, ["challengeId", "nonce", "expiresIn"]);
  return Object.freeze({
    challengeId: expectHexDigest(o.challengeId, `${what}.challengeId`, 16),
    nonce: expectHexDigest(o.nonce, `${what}.nonce`, 32),
    expiresIn: expectInteger(o.expiresIn, `${what}.expiresIn`, 1, 3600),
  });
}

/** `POST /v1/release/attest` body: the server's attestation document for the challenge's nonce. */
export interface AttestRequest {
  readonly challengeId: string;
  /** The attestation document's bytes (its JSON serialization). */
  readonly document: Uint8Array;
}

/** The largest attestation document accepted (evidence's own bound). */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/** Decode an attest request. */
export function decodeAttestRequest(value: unknown): AttestRequest {
  const what = "AttestRequest";
  const o = members(value, what, ["challengeId", "document"]);
  return Object.freeze({
    challengeId: expectHexDigest(o.challengeId, `${what}.challengeId`, 16),
    document: base64Decode(o.document, `${what}.document`, MAX_DOCUMENT_BYTES),
  });
}

/** `POST /v1/release/attest` answer: the activation request to forward to the server's `/v1/attestation/activate`. */
export interface AttestResponse {
  readonly activation: Readonly<Record<string, unknown>>;
}

/** Decode an attest response (the activation request itself is decoded by the server's own endpoint). */
export function decodeAttestResponse(value: unknown): AttestResponse {
  const o = members(value, "AttestResponse", ["activation"]);
  return Object.freeze({ activation: expectObject(o.activation, "AttestResponse.activation") });
}

/** `POST /v1/release/activate` body: the server's activation response. */
export interface ActivateRequest {
  readonly challengeId: string;
  /** The ActivationResponse JSON, decoded by the custodian with evidence's `decodeActivationResponse`. */
  readonly proof: unknown;
}

/** Decode an activate request. */
export function decodeActivateRequest(value: unknown): ActivateRequest {
  const o = members(value, "ActivateRequest", ["challengeId", "proof"]);
  return Object.freeze({
    challengeId: expectHexDigest(o.challengeId, "ActivateRequest.challengeId", 16),
    proof: expectObject(o.proof, "ActivateRequest.proof"),
  });
}

/** The released secret: HPKE-sealed to the attested key set. */
export interface ReleaseResponse {
  readonly deployment: string;
  readonly modelId: string;
  readonly shareIndex?: number;
  readonly threshold: number;
  readonly sealedKey: { readonly enc: Uint8Array; readonly ciphertext: Uint8Array };
  /**
   * The custodian's Ed25519 lease key (SPKI DER), which signs the leases the
   * server must hold to serve (docs/CUSTODY.md "Governance"). Bound into the
   * AAD of `sealedKey` ({@link releaseAad}): a substituted key makes the
   * released secret fail to open.
   */
  readonly leaseKey: Uint8Array;
}

/** An Ed25519 public key as SPKI DER is 44 bytes. */
export const LEASE_KEY_SPKI_BYTES = 44;

/** The JSON body of a {@link ReleaseResponse}. */
export function releaseResponseToJson(response: ReleaseResponse): Record<string, unknown> {
  return {
    deployment: response.deployment,
    modelId: response.modelId,
    ...(response.shareIndex === undefined ? {} : { shareIndex: response.shareIndex }),
    threshold: response.threshold,
    sealedKey: { enc: base64Encode(response.sealedKey.enc), ciphertext: base64Encode(response.sealedKey.ciphertext) },
    leaseKey: base64Encode(response.leaseKey),
  };
}

/** Decode a release response (the release client's side). */
export function decodeReleaseResponse(value: unknown): ReleaseResponse {
  const what = "ReleaseResponse";
  const o = members(value, what, ["deployment", "modelId", "threshold", "sealedKey", "leaseKey"], ["shareIndex"]);
  const leaseKey = base64Decode(o.leaseKey, `${what}.leaseKey`, LEASE_KEY_SPKI_BYTES);
  if (leaseKey.length !== LEASE_KEY_SPKI_BYTES) {
    throw new MalformedError("bad-value", `${what}.leaseKey`, "not an Ed25519 public key");
  }
  const sealed = members(o.sealedKey, `${what}.sealedKey`, ["enc", "ciphertext"]);
  const shareIndex = optionalInteger(o, "shareIndex", what, 1, MAX_OWNERS);
  return Object.freeze({
    deployment: expectObjectId(o.deployment, `${what}.deployment`),
    modelId: expectObjectId(o.modelId, `${what}.modelId`),
    ...(shareIndex === undefined ? {} : { shareIndex }),
    threshold: expectInteger(o.threshold, `${what}.threshold`, 1, MAX_OWNERS),
    sealedKey: Object.freeze({
      enc: base64Decode(sealed.enc, `${what}.sealedKey.enc`, 256),
      ciphertext: base64Decode(sealed.ciphertext, `${what}.sealedKey.ciphertext`, 256),
    }),
    leaseKey,
  });
}

/**
 * The associated data a released secret is sealed with: the UTF-8 RFC 8785
 * serialization of `{challengeId, deployment, modelId, leaseKey}` (the lease
 * key in base64), so a sealed key opens only for the exchange and the
 * deployment it was released in, and only with the lease key the custodian
 * sent beside it.
 */
export function releaseAad(challengeId: string, deployment: string, modelId: string, leaseKey: Uint8Array): Uint8Array {
  return canonicalJsonBytes({ challengeId, deployment, modelId, leaseKey: base64Encode(leaseKey) });
}

/** The custodian's error body. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly claim?: string;
}

/** Decode `{"error":{"code","message","claim"?}}`. */
export function decodeErrorBody(value: unknown): ErrorBody {
  const o = members(value, "ErrorBody", ["error"]);
  const e = members(o.error, "ErrorBody.error", ["code", "message"], ["claim"]);
  return Object.freeze({
    code: expectText(e.code, "ErrorBody.error.code", 64),
    message: expectText(e.message, "ErrorBody.error.message", 2048),
    ...(Object.hasOwn(e, "claim") ? { claim: expectText(e.claim, "ErrorBody.error.claim", 256) } : {}),
  });
}

export * from "./approval.js";
export * from "./lease.js";
