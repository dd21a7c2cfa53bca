/**
 * Credential activation against a verified attestation: the interactive step
 * that proves the AK lives in the TPM whose EK the certificate certifies
 * (TPM 2.0 Part 1 §24; Part 3 §12.5–12.6). The verifier encrypts a fresh
 * secret to the certified EK, bound to the AK's Name; only a TPM holding that
 * EK's private key *and* an object with that Name can recover it.
 */
import { randomBytes } from "@veritee/core";
import { verifyActivatedCredential } from "../credential/check.js";
import { makeCredential } from "../credential/make-credential.js";
import { credentialProtectorFromPublic } from "../credential/protector.js";
import { VerificationError } from "../errors.js";
import { type ActivationRequest, activationRequestToJson } from "./document.js";
import type { JsonObject } from "./json.js";
import { VerifiedAttestation, withAkResident } from "./verify-document.js";

/** Size of the challenge secret: a SHA-256 digest, the most the EK's nameAlg allows (Part 3 §12.6.1). */
const SECRET_SIZE = 32;

const TOKEN: unique symbol = Symbol("AkChallenge");

/**
 * A credential challenge for one verified attestation. Send
 * {@link AkChallenge.toJSON} (the activation request) to the server; keep the
 * challenge itself, which holds the expected secret privately.
 */
export class AkChallenge implements ActivationRequest {
  /** TPM2B_ID_OBJECT contents for TPM2_ActivateCredential. */
  readonly credentialBlob: Uint8Array;
  /** TPM2B_ENCRYPTED_SECRET contents for TPM2_ActivateCredential. */
  readonly encryptedSecret: Uint8Array;
  readonly #expected: Uint8Array;
  readonly #attestation: VerifiedAttestation;

  /** Not for callers: use {@link challengeAk}. */
  constructor(token: typeof TOKEN, attestation: VerifiedAttestation, made: ActivationRequest, expected: Uint8Array) {
    if (token !== TOKEN) throw new TypeError("AkChallenge is made by challengeAk");
    this.credentialBlob = made.credentialBlob;
    this.encryptedSecret = made.encryptedSecret;
    this.#expected = expected;
    this.#attestation = attestation;
    Object.freeze(this);
  }

  /** The JSON body of `POST /v1/attestation/activate` (the secret is not in it). */
  toJSON(): JsonObject {
    return activationRequestToJson(this);
  }

  /** @internal Check a returned secret for `attestation`. */
  static check(challenge: AkChallenge, attestation: VerifiedAttestation, secret: Uint8Array): void {
    if (challenge.#attestation !== attestation) {
      throw new VerificationError("credential-mismatch", "the challenge was made for another attestation");
    }
    verifyActivatedCredential(challenge.#expected, secret);
  }
}

/**
 * Make a credential challenge for a verified attestation: a fresh 32-byte
 * secret, protected by the certified EK (its verified public area) and bound
 * to the AK's Name.
 *
 * @throws VerificationError `unsupported-algorithm` for an EK that cannot protect a credential.
 * @example
 * const challenge = await challengeAk(verified);
 * const res = await fetch(`${url}/v1/attestation/activate`, { method: "POST", body: JSON.stringify(challenge) });
 * const proven = confirmAkResidency(verified, challenge, decodeActivationResponse(await res.json()));
 */
export async function challengeAk(verified: VerifiedAttestation): Promise<AkChallenge> {
  if (!VerifiedAttestation.is(verified)) throw new TypeError("challengeAk takes a VerifiedAttestation");
  const secret = randomBytes(SECRET_SIZE);
  const made = await makeCredential({
    ekPublic: credentialProtectorFromPublic(verified.ekPublic),
    objectName: verified.akName,
    credential: secret,
  });
  return new AkChallenge(TOKEN, verified, made, secret);
}

/**
 * Check the secret the server recovered for `challenge`. On success, returns
 * the attestation with `akResidency: "credential-activation"`: the AK that
 * signed the quote is resident in the TPM whose EK certificate was verified.
 *
 * @throws VerificationError `credential-mismatch` when the secret differs
 *   (another TPM answered, or the AK is not loaded with that EK), or when the
 *   challenge was made for another attestation.
 */
export function confirmAkResidency(
  verified: VerifiedAttestation,
  challenge: AkChallenge,
  secret: Uint8Array,
): VerifiedAttestation {
  if (!VerifiedAttestation.is(verified)) throw new TypeError("confirmAkResidency takes a VerifiedAttestation");
  AkChallenge.check(challenge, verified, secret);
  return withAkResident(verified);
}
