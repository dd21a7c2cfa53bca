/**
 * Test material: a real attestation document from a development server
 * (fixtures/dev-attestation.json, see its `provenance`), verified at its
 * pinned time; policies made from its reference values; and Google's public
 * vTPM EK root CA (../shared/vectors) for production policies.
 *
 * To regenerate the fixture: start `startVeriteeServer({ engine: { kind:
 * "embedded", model }, tpm: { kind: "dev" }, port: 0, codeRoot })`, GET
 * `/v1/attestation?nonce=HEX` with a fresh 32-byte nonce, and record the
 * nonce, the time, the server's `referenceValues` (development, appPcr,
 * bootPcrs, launch), its `ekRootsPem` and the document. The swtpm local CA
 * is public test material; no private key is recorded.
 */
import { readFileSync } from "node:fs";
import { fromHex } from "@veritee/core";
import { type VerifiedAttestation, verifyAttestationDocument } from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import { decodePemCertificate, encodePemCertificate, policyFromReferenceValues } from "../../src/index.js";

interface Fixture {
  readonly nonce: string;
  readonly verifiedAt: string;
  readonly ekRootsPem: string[];
  readonly referenceValues: {
    readonly development: boolean;
    readonly appPcr: number;
    readonly bootPcrs: Record<string, string>;
    readonly launch: {
      readonly codeBundle: string;
      readonly configuration: string;
      readonly runtime: string;
      readonly engineBinaries: Record<string, string>;
      readonly models: Record<string, string>;
    };
  };
  readonly document: unknown;
}

export const FIXTURE: Fixture = JSON.parse(
  readFileSync("packages/policy/test/fixtures/dev-attestation.json", "utf8"),
) as Fixture;

/** The time the fixture was verified at. */
export const VERIFIED_AT = new Date(FIXTURE.verifiedAt);

/** One second after verification: fresh under any policy. */
export const NOW = new Date(VERIFIED_AT.getTime() + 1000);

let verified: Promise<VerifiedAttestation> | undefined;

/** The fixture, verified (default options: boot PCRs 0–7, application PCR 15). */
export function verifiedFixture(): Promise<VerifiedAttestation> {
  verified ??= verifyAttestationDocument(FIXTURE.document, {
    nonce: fromHex(FIXTURE.nonce),
    at: VERIFIED_AT,
    ekRoots: FIXTURE.ekRootsPem.map((pem) => decodePemCertificate(pem).der),
  });
  return verified;
}

/** A policy document as mutable JSON. */
export type JsonDoc = { [member: string]: unknown };

type Key = string | number;

function parentOf(doc: unknown, path: readonly Key[]): Record<Key, unknown> {
  let node = doc as Record<Key, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<Key, unknown>;
  return node;
}

/** The value at `path`. */
export function getPath(doc: unknown, path: readonly Key[]): unknown {
  return path.length === 0 ? doc : parentOf(doc, path)[path[path.length - 1]!];
}

/** Set the value at `path` (defining it, so "__proto__" stays a member). */
export function setPath(doc: unknown, path: readonly Key[], value: unknown): void {
  Object.defineProperty(parentOf(doc, path), path[path.length - 1]!, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** Delete the member at `path`. */
export function deletePath(doc: unknown, path: readonly Key[]): void {
  delete parentOf(doc, path)[path[path.length - 1]!];
}

/** A mutable JSON copy. */
export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** A plain-JSON development policy accepting exactly the fixture (AK proof "any": a fixture cannot be activated). */
export function devPolicyJson(): JsonDoc {
  const doc = clone(
    policyFromReferenceValues({ ...FIXTURE.referenceValues, ekRootsPem: FIXTURE.ekRootsPem }),
  ) as unknown as JsonDoc;
  setPath(doc, ["trust", "akProof"], "any");
  return doc;
}

/** Google's vTPM EK root CA (public; DER in ../shared) as PEM. */
export function googleRootPem(): string {
  return encodePemCertificate(
    new Uint8Array(readFileSync(sharedPath("vectors", "tpm", "gce", "ca", "tpm_ek_root_1.cer"))),
  );
}

/** Google's vTPM EK intermediate CAs as PEM. */
export function googleIntermediatePems(): string[] {
  return ["tpm_ek_intermediate_2.crt", "tpm_ek_intermediate_3.crt"].map((f) =>
    encodePemCertificate(new Uint8Array(readFileSync(sharedPath("vectors", "tpm", "gce", "ca", f)))),
  );
}

const H = (c: string) => c.repeat(64);

/** A valid production policy (Google's vTPM root, made-up non-zero reference values). */
export function productionPolicyJson(): JsonDoc {
  return {
    version: 1,
    development: false,
    description: "A production policy for tests.",
    trust: {
      ekRoots: [{ name: "Google vTPM EK root", pem: googleRootPem() }],
      ekIntermediates: googleIntermediatePems().map((pem, i) => ({ name: `Google intermediate ${i + 2}`, pem })),
      akProof: "credential-activation",
    },
    boot: { sha256: { "0": H("1"), "1": [H("2"), H("3")], "2": "any", "7": H("4") } },
    launch: {
      pcr: 15,
      codeBundle: H("a"),
      configuration: [H("b"), H("c")],
      runtime: "any",
      engineBinaries: { "@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node": H("d") },
      models: { stories260K: H("e") },
    },
    freshness: { maxAgeSeconds: 300, minNonceBytes: 32 },
    channel: { modes: ["attested-tls", "sealed"] },
    platform: { sevSnp: "none", tdx: "none", nvidiaGpu: "none", azureVtpm: "none", sgx: "none" },
  };
}
