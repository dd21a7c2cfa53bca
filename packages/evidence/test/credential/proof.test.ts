/**
 * The version 2 activation proof: HMAC-SHA256(secret, label ‖ serverNonce ‖
 * nonce). It verifies only with the issued secret, for the same server nonce
 * and attestation nonce; anything else is `credential-mismatch`.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hmac, randomBytes, utf8 } from "@veritee/core";
import fc from "fast-check";
import { ACTIVATION_PROOF_LABEL, activationProof, VerificationError, verifyActivationProof } from "../../src/index.js";

const mismatch = (e: unknown) => e instanceof VerificationError && e.code === "credential-mismatch";

describe("activation proof", () => {
  test("is HMAC-SHA256 keyed by the secret over the label, the server nonce and the nonce", () => {
    const secret = randomBytes(32);
    const serverNonce = randomBytes(32);
    const nonce = randomBytes(32);
    const expected = hmac("sha256", secret, utf8(ACTIVATION_PROOF_LABEL), serverNonce, nonce);
    assert.deepEqual(activationProof(secret, serverNonce, nonce), expected);
    verifyActivationProof(secret, nonce, serverNonce, expected);
  });

  test("another secret, server nonce, attestation nonce, or a mutated or truncated proof: credential-mismatch", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.nat(31),
        (secret, serverNonce, nonce, at) => {
          const proof = activationProof(secret, serverNonce, nonce);
          const flip = (b: Uint8Array) => {
            const c = b.slice();
            c[at % c.length]! ^= 0x01;
            return c;
          };
          assert.throws(() => verifyActivationProof(flip(secret), nonce, serverNonce, proof), mismatch);
          assert.throws(() => verifyActivationProof(secret, flip(nonce), serverNonce, proof), mismatch);
          assert.throws(() => verifyActivationProof(secret, nonce, flip(serverNonce), proof), mismatch);
          assert.throws(() => verifyActivationProof(secret, nonce, serverNonce, flip(proof)), mismatch);
          assert.throws(() => verifyActivationProof(secret, nonce, serverNonce, proof.subarray(0, 31)), mismatch);
          assert.throws(() => verifyActivationProof(secret, nonce, serverNonce.subarray(1), proof), mismatch);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("the proof is not the secret (nothing secret is delivered)", () => {
    const secret = randomBytes(32);
    assert.notDeepEqual(activationProof(secret, randomBytes(32), randomBytes(32)), secret);
  });
});
