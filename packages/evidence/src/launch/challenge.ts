/**
 * Credential activation against a verified attestation: the interactive step
 * that proves the AK lives in the TPM whose EK the certificate certifies
 * (TPM 2.0 Part 1 §24; Part 3 §12.5–12.6). The verifier encrypts a fresh
 * secret to the certified EK, bound to the AK's Name; only a TPM holding that
 * EK's private key *and* an object with that Name can recover it. The server
 * answers with a proof of the secret bound to the attestation's nonce
 * (protocol version 2, ../credential/proof.ts), never the secret itself.
 */
import { type JsonObject, randomBytes } from "@veritee/core";
import { makeCredential } from "../credential/make-credential.js";
import { ACTIVATION_SECRET_SIZE, verifyActivationProof } from "../credential/proof.js";
import { credentialProtectorFromPublic } from "../credential/protector.js";
import { VerificationError } from "../errors.js";
import { type ActivationRequest, type ActivationResponse, activationRequestToJson } from "./document.js";
import { VerifiedAttestation, withAkResident } from "./verify-document.js";

const TOKEN: unique symbol = Symbol("AkChallenge");

/**
 * A credential challenge for one verified attestation. Send
 * {@link AkChallenge.toJSON} (the activation request) to the server; keep the
 * challenge itself, which holds the expected secret privately.
 */
export class AkChallenge implements ActivationRequest {
  /** The attestation's nonce: the server only activates for a nonce it attested moments ago. */
  readonly nonce: Uint8Array;
  /** TPM2B_ID_OBJECT contents for TPM2_ActivateCredential. */
  readonly credentialBlob: Uint8Array;
  /** TPM2B_ENCRYPTED_SECRET contents for TPM2_ActivateCredential. */
  readonly encryptedSecret: Uint8Array;
  readonly #expected: Uint8Array;
  readonly #attestation: VerifiedAttestation;

  /** Not for callers: use {@link challengeAk}. */
  constructor(token: typeof TOKEN, attestation: VerifiedAttestation, made: ActivationRequest, expected: Uint8Array) {
    if (token !== TOKEN) throw new TypeError("AkChallenge is made by challengeAk");
    this.nonce = made.nonce;
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

  /** @internal Check a returned proof for `attestation`. */
  static check(challenge: AkChallenge, attestation: VerifiedAttestation, response: ActivationResponse): void {
    if (challenge.#attestation !== attestation) {
      throw new VerificationError("credential-mismatch", "the challenge was made for another attestation");
    }
    verifyActivationProof(challenge.#expected, challenge.nonce, response.serverNonce, response.proof);
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
  const secret = randomBytes(ACTIVATION_SECRET_SIZE);
  const made = await makeCredential({
    ekPublic: credentialProtectorFromPublic(verified.ekPublic),
    objectName: verified.akName,
    credential: secret,
  });
  return new AkChallenge(TOKEN, verified, { ...made, nonce: verified.nonce.slice() }, secret);
}

/**
 * Check the server's activation response for `challenge`: its proof must be
 * the HMAC of the issued secret over the server's nonce and this
 * attestation's nonce. On success, returns the attestation with
 * `akResidency: "credential-activation"`: the AK that signed the quote is
 * resident in the TPM whose EK certificate was verified.
 *
 * @throws VerificationError `credential-mismatch` when the proof was not made
 *   with the issued secret (another TPM answered, the AK is not loaded with
 *   that EK, or it answers another attestation), or when the challenge was
 *   made for another attestation.
 */
export function confirmAkResidency(
  verified: VerifiedAttestation,
  challenge: AkChallenge,
  response: ActivationResponse,
): VerifiedAttestation {
  if (!VerifiedAttestation.is(verified)) throw new TypeError("confirmAkResidency takes a VerifiedAttestation");
  AkChallenge.check(challenge, verified, response);
  return withAkResident(verified);
}
