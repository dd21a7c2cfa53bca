/**
 * Multi-party control of a k-of-n model's governance (docs/CUSTODY.md
 * "Multi-party control"): supplying quota, lifting a revocation and changing
 * a deployment's policies take approvals from k of the model's owners; one
 * owner's approval is enough to revoke. An approval is an Ed25519 signature
 * by an owner key over {@link APPROVAL_CONTEXT} ‖ RFC 8785 JSON of the
 * payload, which names the action, the deployment, the action's exact
 * parameters, an expiry and a random nonce — so an approval is good for one
 * action, once, for a short time.
 */
import { createHash } from "node:crypto";
import {
  base64Decode,
  base64Encode,
  base64urlDecode,
  base64urlEncode,
  canonicalJson,
  expectHexDigest,
  expectInteger,
  expectText,
  MalformedError,
  parseJsonBytes,
} from "@veritee/core";
import { expectObjectId, MAX_COUNT, members, signingBytes } from "./shape.js";

/** Prefix of what an owner signs. */
export const APPROVAL_CONTEXT = "veritee-approval-v1\0";
/** The actions approvals are for. */
export const APPROVAL_ACTIONS = ["supply", "unrevoke", "policy", "revoke"] as const;
export type ApprovalAction = (typeof APPROVAL_ACTIONS)[number];
/** Longest an approval may be valid for. */
export const MAX_APPROVAL_SECONDS = 7 * 24 * 3600;
/** Most approvals one request carries. */
export const MAX_APPROVALS = 16;

/** The parameters each action's approval names. */
export interface ApprovalParams {
  /** supply: the consumer and the amounts, exactly as the request gives them. */
  readonly consumer?: string;
  readonly inferences?: number;
  readonly tokens?: number;
  /** policy: SHA-256 (hex) of the RFC 8785 JSON of the new policy list. */
  readonly policiesSha256?: string;
}

/** What an owner signs. */
export interface ApprovalPayload {
  readonly action: ApprovalAction;
  readonly deployment: string;
  readonly params: ApprovalParams;
  /** ISO 8601: the approval is refused after this. */
  readonly notAfter: string;
  /** 16 random bytes (hex): an approval is used once. */
  readonly nonce: string;
}

/** An owner's signed approval. */
export interface Approval {
  readonly owner: string;
  readonly payload: ApprovalPayload;
  readonly signature: Uint8Array;
}

function decodeParams(value: unknown, action: ApprovalAction, what: string): ApprovalParams {
  if (action === "supply") {
    const o = members(value, what, ["consumer"], ["inferences", "tokens"]);
    return Object.freeze({ consumer: expectObjectId(o.consumer, `${what}.consumer`), ...decodeAmount(o, what) });
  }
  if (action === "policy") {
    const o = members(value, what, ["policiesSha256"]);
    return Object.freeze({ policiesSha256: expectHexDigest(o.policiesSha256, `${what}.policiesSha256`, 32) });
  }
  members(value, what, []);
  return Object.freeze({});
}

/** A supply's amounts: at least one of `inferences`, `tokens`, each 1..2^53−1 (a supply request's and its approval's). */
export function decodeAmount(
  o: Readonly<Record<string, unknown>>,
  what: string,
): { readonly inferences?: number; readonly tokens?: number } {
  if (!Object.hasOwn(o, "inferences") && !Object.hasOwn(o, "tokens")) {
    throw new MalformedError("bad-value", what, "give inferences, tokens or both");
  }
  return {
    ...(Object.hasOwn(o, "inferences")
      ? { inferences: expectInteger(o.inferences, `${what}.inferences`, 1, MAX_COUNT) }
      : {}),
    ...(Object.hasOwn(o, "tokens") ? { tokens: expectInteger(o.tokens, `${what}.tokens`, 1, MAX_COUNT) } : {}),
  };
}

/** Decode an approval payload. @throws MalformedError naming the member. */
export function decodeApprovalPayload(value: unknown): ApprovalPayload {
  const what = "ApprovalPayload";
  const o = members(value, what, ["action", "deployment", "params", "notAfter", "nonce"]);
  if (typeof o.action !== "string" || !APPROVAL_ACTIONS.includes(o.action as ApprovalAction)) {
    throw new MalformedError("bad-value", `${what}.action`, `expected one of ${APPROVAL_ACTIONS.join(", ")}`);
  }
  const action = o.action as ApprovalAction;
  const notAfter = expectText(o.notAfter, `${what}.notAfter`, 40);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/.test(notAfter) || Number.isNaN(Date.parse(notAfter))) {
    throw new MalformedError("bad-value", `${what}.notAfter`, "expected an ISO 8601 UTC time");
  }
  return Object.freeze({
    action,
    deployment: expectObjectId(o.deployment, `${what}.deployment`),
    params: decodeParams(o.params, action, `${what}.params`),
    notAfter,
    nonce: expectHexDigest(o.nonce, `${what}.nonce`, 16),
  });
}

/** Decode an approval. @throws MalformedError naming the member. */
export function decodeApproval(value: unknown): Approval {
  const what = "Approval";
  const o = members(value, what, ["owner", "payload", "signature"]);
  return Object.freeze({
    owner: expectObjectId(o.owner, `${what}.owner`),
    payload: decodeApprovalPayload(o.payload),
    signature: base64Decode(o.signature, `${what}.signature`, 64),
  });
}

/** Decode an optional list of approvals (a request's `approvals` member). */
export function decodeApprovals(value: unknown, what: string): Approval[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_APPROVALS) {
    throw new MalformedError("bad-value", what, `expected a list of at most ${MAX_APPROVALS} approvals`);
  }
  return value.map((a) => decodeApproval(a));
}

/** The JSON of an approval. */
export function approvalToJson(approval: Approval): Record<string, unknown> {
  return { owner: approval.owner, payload: approval.payload, signature: base64Encode(approval.signature) };
}

/** The bytes an owner signs. */
export function approvalSigningBytes(payload: ApprovalPayload): Uint8Array {
  return signingBytes(APPROVAL_CONTEXT, payload);
}

/** An approval as one line of text (what `veritee custodian approve` prints and `--approval` takes). */
export function approvalToText(approval: Approval): string {
  return `vta_${base64urlEncode(new TextEncoder().encode(JSON.stringify(approvalToJson(approval))))}`;
}

/** Decode {@link approvalToText}'s form. @throws MalformedError. */
export function approvalFromText(text: string): Approval {
  if (!text.startsWith("vta_") || text.length > 8192) {
    throw new MalformedError("bad-value", "approval", "expected the vta_… text veritee custodian approve prints");
  }
  const bytes = base64urlDecode(text.slice(4), "approval");
  return decodeApproval(parseJsonBytes(bytes, "approval", { maxBytes: 8192, canonical: false }));
}

/** An Ed25519 public key as SPKI DER is 44 bytes. */
const OWNER_KEY_BYTES = 44;

/** One owner of a model: its id and Ed25519 public key (SPKI DER). */
export interface OwnerKey {
  readonly id: string;
  readonly publicKey: Uint8Array;
}

/** `POST /v1/admin/models/{m}/owners`: the owners' keys, set once. */
export function decodeOwnersRequest(value: unknown): { readonly owners: readonly OwnerKey[] } {
  const what = "OwnersRequest";
  const o = members(value, what, ["owners"]);
  if (!Array.isArray(o.owners) || o.owners.length < 1 || o.owners.length > 16) {
    throw new MalformedError("bad-value", `${what}.owners`, "expected 1..16 owners");
  }
  const owners = o.owners.map((item, i) => {
    const w = `${what}.owners[${i}]`;
    const m = members(item, w, ["id", "publicKey"]);
    const publicKey = base64Decode(m.publicKey, `${w}.publicKey`, OWNER_KEY_BYTES);
    if (publicKey.length !== OWNER_KEY_BYTES)
      throw new MalformedError("bad-value", `${w}.publicKey`, "not an Ed25519 key");
    return Object.freeze({ id: expectObjectId(m.id, `${w}.id`), publicKey });
  });
  if (new Set(owners.map((x) => x.id)).size !== owners.length) {
    throw new MalformedError("bad-value", `${what}.owners`, "an owner is listed twice");
  }
  return Object.freeze({ owners: Object.freeze(owners) });
}

/** `POST /v1/admin/deployments/{d}/unrevoke`: k owners' approvals (none for a model with one owner). */
export function decodeUnrevokeRequest(value: unknown): { readonly approvals: readonly Approval[] } {
  const o = members(value, "UnrevokeRequest", [], ["approvals"]);
  return Object.freeze({ approvals: decodeApprovals(o.approvals, "UnrevokeRequest.approvals") });
}

/** `POST /v1/admin/deployments/{d}/policies`: the new policy list and k owners' approvals of it. */
export function decodePolicyChangeRequest(value: unknown): {
  readonly policies: readonly unknown[];
  readonly approvals: readonly Approval[];
} {
  const what = "PolicyChangeRequest";
  const o = members(value, what, ["policies"], ["approvals"]);
  if (!Array.isArray(o.policies) || o.policies.length < 1 || o.policies.length > 16) {
    throw new MalformedError("bad-value", `${what}.policies`, "expected 1..16 policies");
  }
  return Object.freeze({ policies: o.policies, approvals: decodeApprovals(o.approvals, `${what}.approvals`) });
}

/** `POST /v1/owner/revoke`: one owner's approval to revoke (no admin token). */
export function decodeOwnerRevokeRequest(value: unknown): { readonly approval: Approval } {
  const o = members(value, "OwnerRevokeRequest", ["approval"]);
  return Object.freeze({ approval: decodeApproval(o.approval) });
}

/** What a policy-change approval names: SHA-256 (hex) of the RFC 8785 JSON of the policy list. */
export function policiesDigest(policies: readonly unknown[]): string {
  return createHash("sha256").update(canonicalJson(policies)).digest("hex");
}
