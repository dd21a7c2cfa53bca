/**
 * The custody package's errors (docs/CUSTODY.md). Messages name structures,
 * fields, deployments and failed claims; never key material, shares or model
 * bytes.
 */
import { VeriteeError } from "@veritee/core";

/** Why a sealed model file did not open (docs/CUSTODY.md "The sealed format"). */
export type SealedModelCode =
  /** The file does not start with the format's magic. */
  | "bad-magic"
  /** A format version this build does not read. */
  | "unsupported-version"
  /** The header does not decode, or a field is out of range. */
  | "bad-header"
  /** A chunk's AEAD tag did not verify: a flipped byte, a reordered, spliced or foreign chunk, or a changed header. */
  | "chunk-auth-failed"
  /** The file ends before its final chunk. */
  | "truncated"
  /** Bytes follow the final chunk. */
  | "extended"
  /** Every chunk verified but the plaintext's SHA-256 differs from the header's. */
  | "digest-mismatch"
  /** The key (or the combined shares) does not open this file. */
  | "wrong-key"
  /** The key file or share set is malformed. */
  | "bad-key"
  /** Sealing would replace an existing file. */
  | "output-exists";

/** A sealed model file that does not decode or authenticate. */
export class SealedModelError extends VeriteeError<SealedModelCode> {
  readonly kind = "custody" as const;
}

/** Why a custodian operation or a key release failed. */
export type CustodyCode =
  /** The custodian refused the release; `claim` names the failed check. */
  | "refused"
  /** The deployment is revoked. */
  | "revoked"
  /** No custodian could be reached (after retries). */
  | "unreachable"
  /** Fewer than the threshold of custodians released a share. */
  | "not-enough-shares"
  /** A custodian's answer does not follow the protocol. */
  | "bad-response"
  /** The admin API refused the bearer token. */
  | "unauthorized"
  /** An object the request names does not exist. */
  | "not-found"
  /** An object with this id exists with different contents. */
  | "conflict"
  /** The request is invalid (the custodian's 400). */
  | "invalid-request"
  /** A lease renewal's sequence number is not above the last one: replayed or reordered. */
  | "replayed"
  /** The server's lease ended (expired, revoked, or refused): it must attest again. */
  | "lease-lost"
  /** The custodian's database failed or is inconsistent. */
  | "storage";

/** A custodian or key-release failure. */
export class CustodyError extends VeriteeError<CustodyCode> {
  readonly kind = "custody" as const;
  /** The failed claim a custodian named when it refused a release, if any. */
  readonly claim: string | undefined;

  constructor(code: CustodyCode, message: string, options?: { cause?: unknown; claim?: string | undefined }) {
    super(code, message, options);
    this.claim = options?.claim;
  }
}
