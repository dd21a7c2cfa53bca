/**
 * The code the browser test runs inside Chromium, bundled by esbuild for the
 * browser (the "browser" export condition: core's WebCrypto backend). It
 * imports only the browser-safe packages; a `node:` import anywhere in their
 * graph fails the bundle.
 */

import { connect } from "@veritee/client";
import { CRYPTO_BACKEND, fromHex, VeriteeError } from "@veritee/core";
import {
  challengeAk,
  confirmAkResidency,
  decodeActivationResponse,
  verifyAttestationDocument,
} from "@veritee/evidence";
import { evaluate, parsePolicyJson, verificationInputs } from "@veritee/policy";

/** What the test passes in (JSON-safe). */
export interface PageInput {
  /** The attestation document, hex. */
  readonly document: string;
  /** The same document with one byte flipped, hex. */
  readonly tampered: string;
  readonly nonce: string;
  /** The pinned verification time (ISO 8601). */
  readonly at: string;
  readonly policy: string;
  /** The policy with one measurement changed. */
  readonly wrongPolicy: string;
}

/** What the page reports back (JSON-safe). */
export interface PageOutput {
  readonly backend: string;
  readonly codeBundle: string;
  readonly akResidency: string;
  readonly verdict: string;
  readonly wrongPolicyError: ErrorReport | null;
  readonly tamperedError: ErrorReport | null;
  readonly sealed: boolean;
  readonly status: number;
  readonly streamed: string;
}

/** A typed error, as the test compares it. */
export interface ErrorReport {
  readonly name: string;
  readonly code: string;
  readonly message: string;
}

function report(error: unknown): ErrorReport {
  if (error instanceof VeriteeError) return { name: error.name, code: error.code, message: error.message };
  return { name: "untyped", code: "", message: String(error) };
}

async function run(input: PageInput): Promise<PageOutput> {
  const policy = parsePolicyJson(input.policy);
  const at = new Date(input.at);
  const nonce = fromHex(input.nonce);
  const options = { nonce, at, ...verificationInputs(policy) };

  // Verify the document at the pinned time, then prove the AK by credential
  // activation through the same-origin relay to the server.
  const unproven = await verifyAttestationDocument(fromHex(input.document), options);
  const challenge = await challengeAk(unproven);
  const answer = await fetch("/v1/attestation/activate", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(challenge),
  });
  const verified = confirmAkResidency(unproven, challenge, decodeActivationResponse(await answer.json()));
  const appraisal = evaluate(verified, policy, { now: at });

  let wrongPolicyError: ErrorReport | null = null;
  try {
    evaluate(verified, parsePolicyJson(input.wrongPolicy), { now: at });
  } catch (error) {
    wrongPolicyError = report(error);
  }
  let tamperedError: ErrorReport | null = null;
  try {
    await verifyAttestationDocument(fromHex(input.tampered), options);
  } catch (error) {
    tamperedError = report(error);
  }

  // The SDK end to end: attest again, then a chat request sealed to the
  // attested key, its streamed answer opened frame by frame.
  const session = await connect({ baseURL: `${location.origin}/v1`, policy, now: () => at });
  const res = await session.fetch(`${session.baseURL}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "stories260K",
      messages: [{ role: "user", content: "Tell me a story." }],
      max_tokens: 8,
      temperature: 0,
      stream: true,
    }),
  });
  const streamed = await res.text();
  await session.close();

  return {
    backend: CRYPTO_BACKEND,
    codeBundle: verified.launch.codeBundle.digest,
    akResidency: verified.akResidency,
    verdict: appraisal.verdict,
    wrongPolicyError,
    tamperedError,
    sealed: session.channel.sealed,
    status: res.status,
    streamed,
  };
}

(globalThis as { veritee?: unknown }).veritee = { run };
