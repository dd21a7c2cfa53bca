/**
 * The custodian wire protocol's decoders, as properties (fast-check): what
 * an encoder writes decodes to the same value; an unknown or a missing
 * member, or any other JSON value, is a `MalformedError` naming the
 * structure — never another exception, never a quoted secret.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { base64Encode, MalformedError, toHex } from "@veritee/core";
import fc from "fast-check";
import {
  decodeActivateRequest,
  decodeAttestRequest,
  decodeAuditEvent,
  decodeChallengeRequest,
  decodeChallengeResponse,
  decodeDeploymentAddRequest,
  decodeErrorBody,
  decodeModelAddRequest,
  decodeModelInfo,
  decodeReleaseResponse,
  type ModelAddRequest,
  modelAddRequestToJson,
  type ReleaseResponse,
  releaseAad,
  releaseResponseToJson,
} from "../src/protocol/index.js";

const id = fc.stringMatching(/^[A-Za-z0-9._-]{1,128}$/);
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const hex = (n: number) => bytes(n).map(toHex);

const modelAdd: fc.Arbitrary<ModelAddRequest> = fc.oneof(
  fc.record(
    { id, plaintextSha256: hex(32), sealedSha256: hex(32), secret: bytes(32), threshold: fc.constant(1) },
    { requiredKeys: ["id", "plaintextSha256", "secret", "threshold"] },
  ),
  fc.record(
    {
      id,
      plaintextSha256: hex(32),
      sealedSha256: hex(32),
      secret: bytes(33),
      threshold: fc.integer({ min: 2, max: 16 }),
      shareIndex: fc.integer({ min: 1, max: 16 }),
    },
    { requiredKeys: ["id", "plaintextSha256", "secret", "threshold", "shareIndex"] },
  ),
);

const release: fc.Arbitrary<ReleaseResponse> = fc.record(
  {
    deployment: id,
    modelId: id,
    threshold: fc.integer({ min: 1, max: 16 }),
    shareIndex: fc.integer({ min: 1, max: 16 }),
    sealedKey: fc.record({
      enc: fc.uint8Array({ minLength: 1, maxLength: 256 }),
      ciphertext: fc.uint8Array({ minLength: 1, maxLength: 256 }),
    }),
    leaseKey: fc.uint8Array({ minLength: 44, maxLength: 44 }),
  },
  { requiredKeys: ["deployment", "modelId", "threshold", "sealedKey", "leaseKey"] },
);

/** Every decoder, with a valid body for it. */
const DECODERS: [string, (v: unknown) => unknown, fc.Arbitrary<Record<string, unknown>>][] = [
  ["ModelAddRequest", decodeModelAddRequest, modelAdd.map(modelAddRequestToJson)],
  ["ReleaseResponse", decodeReleaseResponse, release.map(releaseResponseToJson)],
  [
    "ModelInfo",
    decodeModelInfo,
    fc.record({
      id,
      plaintextSha256: hex(32),
      sealedSha256: fc.option(hex(32), { nil: null }),
      threshold: fc.integer({ min: 1, max: 16 }),
      shareIndex: fc.option(fc.integer({ min: 1, max: 16 }), { nil: null }),
      createdAt: fc.constant("2026-12-07T00:00:00.000Z"),
    }),
  ],
  ["ChallengeRequest", decodeChallengeRequest, fc.record({ deployment: id })],
  [
    "ChallengeResponse",
    decodeChallengeResponse,
    fc.record({ challengeId: hex(16), nonce: hex(32), expiresIn: fc.integer({ min: 1, max: 3600 }) }),
  ],
  [
    "AttestRequest",
    decodeAttestRequest,
    fc.record({ challengeId: hex(16), document: fc.uint8Array({ maxLength: 512 }).map(base64Encode) }),
  ],
  ["ActivateRequest", decodeActivateRequest, fc.record({ challengeId: hex(16), proof: fc.object() })],
  [
    "DeploymentAddRequest",
    decodeDeploymentAddRequest,
    fc.record({ id, modelId: id, policies: fc.array(fc.object(), { minLength: 1, maxLength: 16 }) }),
  ],
  [
    "AuditEvent",
    decodeAuditEvent,
    fc.record(
      {
        seq: fc.integer({ min: 1 }),
        at: fc.constant("2026-12-07T00:00:00.000Z"),
        type: fc.constantFrom("release", "refusal", "revocation", "model-added", "deployment-added"),
        deployment: id,
        claim: fc.string({ minLength: 1, maxLength: 256 }),
        reason: fc.string({ minLength: 1, maxLength: 1024 }),
      },
      { requiredKeys: ["seq", "at", "type"] },
    ),
  ],
  [
    "ErrorBody",
    decodeErrorBody,
    fc
      .record({
        code: fc.string({ minLength: 1, maxLength: 64 }),
        message: fc.string({ minLength: 1, maxLength: 2048 }),
      })
      .map((error) => ({ error })),
  ],
];

test("model registrations and releases decode to what was encoded", () => {
  fc.assert(
    fc.property(modelAdd, (request) => {
      const back = decodeModelAddRequest(JSON.parse(JSON.stringify(modelAddRequestToJson(request))));
      assert.deepEqual({ ...back, secret: [...back.secret] }, { ...request, secret: [...request.secret] });
    }),
  );
  fc.assert(
    fc.property(release, (response) => {
      const back = decodeReleaseResponse(JSON.parse(JSON.stringify(releaseResponseToJson(response))));
      assert.deepEqual(JSON.parse(JSON.stringify(releaseResponseToJson(back))), releaseResponseToJson(response));
    }),
  );
});

for (const [what, decode, valid] of DECODERS) {
  test(`${what}: valid bodies decode; an unknown or missing member is refused by name`, () => {
    fc.assert(
      fc.property(valid, fc.stringMatching(/^[a-z]{1,12}$/), (body, extra) => {
        decode(body);
        if (!Object.hasOwn(body, extra)) {
          assert.throws(
            () => decode({ ...body, [extra]: 1 }),
            (e: unknown) => {
              assert.ok(e instanceof MalformedError, String(e));
              assert.match(e.message, new RegExp(`unknown member ${extra}`));
              return true;
            },
          );
        }
        for (const name of Object.keys(body)) {
          const { [name]: _dropped, ...rest } = body;
          // An optional member may go; a required one may not. Either way no other exception escapes.
          try {
            decode(rest);
          } catch (error) {
            assert.ok(error instanceof MalformedError, String(error));
          }
        }
      }),
    );
  });

  test(`${what}: any JSON value is decoded or refused with a MalformedError`, () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue(),
          valid.chain((b) => fc.constant(mutate(b))),
        ),
        (value) => {
          try {
            decode(value);
          } catch (error) {
            assert.ok(error instanceof MalformedError, String(error));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
}

/** Replace each member with a value of another type, one at a time (deterministically, for the property). */
function mutate(body: Record<string, unknown>): Record<string, unknown> {
  const keys = Object.keys(body);
  if (keys.length === 0) return body;
  const key = keys[keys.length - 1]!;
  const value = body[key];
  return { ...body, [key]: typeof value === "string" ? 7 : typeof value === "number" ? "7" : null };
}

test("a bad secret is refused without quoting it", () => {
  fc.assert(
    // At least 8 bytes: a shorter hex or base64 string occurs in ordinary words ("dd" in "ModelAddRequest").
    fc.property(fc.uint8Array({ minLength: 8, maxLength: 64 }), (secret) => {
      fc.pre(secret.length !== 32);
      const body = { id: "m", plaintextSha256: "ab".repeat(32), secret: base64Encode(secret) };
      assert.throws(
        () => decodeModelAddRequest(body),
        (e: unknown) => {
          assert.ok(e instanceof MalformedError);
          assert.ok(!e.message.includes(body.secret) && !e.message.includes(toHex(secret)));
          return true;
        },
      );
    }),
  );
});

test("the release AAD binds the challenge, the deployment, the model and the lease key", () => {
  const key = fc.uint8Array({ minLength: 44, maxLength: 44 });
  fc.assert(
    fc.property(hex(16), id, id, hex(16), key, key, (challenge, deployment, model, other, lease, otherLease) => {
      const aad = releaseAad(challenge, deployment, model, lease);
      fc.pre(other !== challenge);
      assert.notDeepEqual(aad, releaseAad(other, deployment, model, lease));
      if (deployment !== model) assert.notDeepEqual(aad, releaseAad(challenge, model, deployment, lease));
      if (Buffer.compare(lease, otherLease) !== 0) {
        assert.notDeepEqual(aad, releaseAad(challenge, deployment, model, otherLease));
      }
    }),
  );
});
