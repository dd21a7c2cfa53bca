/**
 * The custodian's side of a key release (docs/CUSTODY.md "Key release"):
 * challenge → attest → activate, verified with the same `evidence` and
 * `policy` code clients use.
 *
 * - `challenge`: a fresh 32-byte nonce for a known, unrevoked deployment;
 *   challenges live in memory for 60 s and are used once (a restarted
 *   custodian forgets them, and the server asks again);
 * - `attest`: the attestation document must verify for that nonce under the
 *   trust inputs of at least one of the deployment's policies; the custodian
 *   then makes a credential-activation challenge for its EK and AK;
 * - `activate`: the TPM's proof makes the AK's residency proven; the
 *   attestation is then evaluated against the deployment's policies (one must
 *   pass); the release is recorded (challenge used + audit event, one
 *   transaction) and only then is the secret sealed, with single-shot HPKE,
 *   to the attested key set's HPKE key.
 *
 * Every refusal is audited with the deployment and the failed claim (a
 * policy claim path, or the verification step's code), never with a secret.
 */
import { randomBytes } from "node:crypto";
import { sealSingleShot } from "@veritee/channel";
import { nodeBackend } from "@veritee/channel/node";
import { base64Encode, toHex, VeriteeError } from "@veritee/core";
import {
  type AkChallenge,
  challengeAk,
  confirmAkResidency,
  decodeActivationResponse,
  type VerifiedAttestation,
  verifyAttestationDocument,
} from "@veritee/evidence";
import { evaluate, type Policy, PolicyError, parsePolicy, verificationInputs } from "@veritee/policy";
import { CustodyError } from "../errors.js";
import {
  type ActivateRequest,
  type AttestRequest,
  CHALLENGE_TTL_SECONDS,
  type ChallengeResponse,
  MODEL_KEY_INFO,
  type ReleaseResponse,
  releaseAad,
} from "../protocol/index.js";
import type { Ledger } from "./ledger.js";
import type { CustodianStore } from "./store.js";

/** Most challenges outstanding at once: a flood of challenge requests cannot grow memory without bound. */
const MAX_OUTSTANDING = 1024;

interface Outstanding {
  readonly deployment: string;
  readonly nonce: Uint8Array;
  readonly expires: number;
  /** After `attest`: the verified document (per passing policy) and the activation challenge. */
  attested?: { readonly verified: VerifiedAttestation; readonly ak: AkChallenge; readonly policies: Policy[] };
  /** Set while one request works on it: a second concurrent use is refused. */
  busy?: boolean;
}

/** A refusal: audited, then answered 403 (or 404/409) with the claim. */
function refused(message: string, claim: string): CustodyError {
  return new CustodyError("refused", message, { claim });
}

/** The claim a verification or policy failure names. */
function claimOf(error: unknown): string {
  if (error instanceof PolicyError && error.claim) return error.claim.path;
  if (error instanceof VeriteeError) return `verification.${error.code}`;
  return "verification";
}

/** The custodian's release protocol over a store. */
export class ReleaseService {
  readonly #store: CustodianStore;
  readonly #ledger: Ledger;
  readonly #challenges = new Map<string, Outstanding>();
  readonly #now: () => number;

  constructor(store: CustodianStore, ledger: Ledger, options: { now?: () => number } = {}) {
    this.#store = store;
    this.#ledger = ledger;
    this.#now = options.now ?? Date.now;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, c] of this.#challenges) if (c.expires <= now) this.#challenges.delete(id);
  }

  async #refuse(deployment: string, error: CustodyError, peer: string | undefined): Promise<never> {
    await this.#store.appendAudit({
      type: "refusal",
      deployment,
      ...(error.claim ? { claim: error.claim } : {}),
      reason: `${error.code}: ${error.message}`.slice(0, 1000),
      ...(peer ? { peer } : {}),
    });
    throw error;
  }

  /** Take a challenge for one step; the caller releases `busy` when done. */
  #take(challengeId: string, step: "attest" | "activate"): Outstanding {
    this.#sweep();
    const c = this.#challenges.get(challengeId);
    if (!c)
      throw new CustodyError("not-found", "no such challenge (expired, used, or from before a restart): ask again");
    if (c.busy) throw new CustodyError("conflict", "the challenge is in use");
    if ((step === "attest") !== (c.attested === undefined)) {
      throw new CustodyError("conflict", step === "attest" ? "the challenge was attested already" : "attest first");
    }
    c.busy = true;
    return c;
  }

  /** `POST /v1/release/challenge`. */
  async challenge(deployment: string, peer?: string): Promise<ChallengeResponse> {
    const d = await this.#store.getDeployment(deployment);
    if (!d) throw new CustodyError("not-found", `no deployment ${deployment}`);
    if (d.revoked) {
      return this.#refuse(deployment, new CustodyError("revoked", `deployment ${deployment} is revoked`), peer);
    }
    this.#sweep();
    if (this.#challenges.size >= MAX_OUTSTANDING) {
      throw new CustodyError("unreachable", "too many releases in progress; retry shortly");
    }
    const challengeId = toHex(randomBytes(16));
    const nonce = new Uint8Array(randomBytes(32));
    this.#challenges.set(challengeId, {
      deployment,
      nonce,
      expires: this.#now() + CHALLENGE_TTL_SECONDS * 1000,
    });
    return { challengeId, nonce: toHex(nonce), expiresIn: CHALLENGE_TTL_SECONDS };
  }

  /** `POST /v1/release/attest`: verify the document; answer the activation request for its TPM. */
  async attest(request: AttestRequest, peer?: string): Promise<{ activation: unknown }> {
    const c = this.#take(request.challengeId, "attest");
    try {
      const d = await this.#store.getDeployment(c.deployment);
      if (!d || d.revoked) {
        this.#challenges.delete(request.challengeId);
        return await this.#refuse(
          c.deployment,
          new CustodyError("revoked", `deployment ${c.deployment} is revoked`),
          peer,
        );
      }
      const policies = d.policies.map((p) => parsePolicy(p));
      let verified: VerifiedAttestation | undefined;
      const passing: Policy[] = [];
      let firstError: unknown;
      // Each policy brings its own trust (EK roots, PCR selection): the document must verify under one of them.
      for (const policy of policies) {
        try {
          const v = await verifyAttestationDocument(request.document, {
            nonce: c.nonce,
            at: new Date(this.#now()),
            ...verificationInputs(policy),
          });
          verified ??= v;
          if (v.keySetDigest.every((b, i) => b === verified!.keySetDigest[i])) passing.push(policy);
        } catch (error) {
          firstError ??= error;
        }
      }
      if (!verified) {
        this.#challenges.delete(request.challengeId);
        return await this.#refuse(
          c.deployment,
          refused("the attestation document does not verify under the deployment's policies", claimOf(firstError)),
          peer,
        );
      }
      const ak = await challengeAk(verified);
      c.attested = { verified, ak, policies: passing };
      return { activation: ak.toJSON() };
    } finally {
      c.busy = false;
    }
  }

  /** `POST /v1/release/activate`: AK residency, the policies, the release, the sealed secret. */
  async activate(request: ActivateRequest, peer?: string): Promise<ReleaseResponse> {
    const c = this.#take(request.challengeId, "activate");
    // One use: whatever happens next, this challenge is spent.
    this.#challenges.delete(request.challengeId);
    const { verified, ak, policies } = c.attested!;
    let proven: VerifiedAttestation;
    try {
      proven = confirmAkResidency(verified, ak, decodeActivationResponse(request.proof));
    } catch (error) {
      return this.#refuse(c.deployment, refused("the TPM's activation proof does not verify", claimOf(error)), peer);
    }
    let firstError: unknown;
    let passed = false;
    for (const policy of policies) {
      try {
        evaluate(proven, policy, { now: new Date(this.#now()) });
        passed = true;
        break;
      } catch (error) {
        firstError ??= error;
      }
    }
    if (!passed) {
      const claim = claimOf(firstError);
      const detail = firstError instanceof PolicyError ? firstError.message.slice(0, 300) : "the policy refused it";
      return this.#refuse(
        c.deployment,
        refused(`the attestation fails the deployment's policy: ${detail}`, claim),
        peer,
      );
    }
    const d = await this.#store.getDeployment(c.deployment);
    if (!d) throw new CustodyError("not-found", `no deployment ${c.deployment}`);
    const model = await this.#store.modelSecret(d.modelId);
    if (!model) throw new CustodyError("not-found", `no model ${d.modelId}`);
    const leaseKey = await this.#ledger.leaseKey();
    const leaseMs = await this.#ledger.leaseMs(c.deployment);
    try {
      // Recorded before it leaves: a crash after this leaves an audited release the server never got (it asks
      // again), never a release without its audit event.
      // The lease starts with the release: the server's first renewal, signed with the attested TLS key
      // recorded here, must come within one lease length.
      await this.#store.recordRelease(
        request.challengeId,
        { type: "release", deployment: c.deployment, model: d.modelId, ...(peer ? { peer } : {}) },
        { tlsSpki: base64Encode(proven.keySet.tlsSpki), expiresAtMs: this.#now() + leaseMs },
      );
      const sealed = await sealSingleShot(
        nodeBackend,
        proven.keySet.hpke,
        new TextEncoder().encode(MODEL_KEY_INFO),
        releaseAad(request.challengeId, c.deployment, d.modelId, leaseKey.spki),
        model.secret,
      );
      return {
        deployment: c.deployment,
        modelId: d.modelId,
        threshold: model.model.threshold,
        ...(model.model.shareIndex !== null ? { shareIndex: model.model.shareIndex } : {}),
        sealedKey: sealed,
        leaseKey: leaseKey.spki,
      };
    } catch (error) {
      if (error instanceof CustodyError && error.code === "revoked") return this.#refuse(c.deployment, error, peer);
      throw error;
    } finally {
      model.secret.fill(0);
    }
  }
}
