/**
 * The attestation document a Veritee server returns for
 * `GET /v1/attestation?nonce=HEX` (version 1), its strict decoder and its
 * encoder, and the JSON bodies of credential activation
 * (`POST /v1/attestation/activate`). docs/ATTESTATION.md documents every
 * field; binary fields are padded standard base64 (RFC 4648 §4), digests and
 * PCR values lower-case hex.
 *
 *     {
 *       "version": 1,
 *       "quote": { "attest": b64 TPMS_ATTEST, "signature": b64 TPMT_SIGNATURE },
 *       "pcrs": [ { "bank": "sha256", "index": 0, "value": hex }, ... ],
 *       "ak": { "public": b64 TPM2B_PUBLIC, "name": hex TPM2B_NAME contents },
 *       "ek": { "public": b64 TPM2B_PUBLIC, "certificate": b64 DER | null, "intermediates": [ b64 DER, ... ] },
 *       "bootEventLog": b64 TCG event log | null,
 *       "launchLog": { launch log, see log.ts },
 *       "keySet": { key set, see key-set.ts },
 *       "platform": [ confidential-computing evidence, see platform.ts ]
 *     }
 */
import {
  base64Decode,
  base64Encode,
  canonicalJsonBytes,
  digestSize,
  expectArray,
  expectHexDigest,
  expectInteger,
  expectMembers,
  expectObject,
  fromHex,
  type HashAlg,
  type JsonObject,
  MalformedError,
  parseJsonBytes,
  toHex,
} from "@veritee/core";
import { ACTIVATION_PROOF_SIZE } from "../credential/proof.js";
import { MAX_CERTIFICATE_SIZE } from "../x509/certificate.js";
import { NONCE_LENGTH } from "./binding.js";
import { decodeKeySet, type KeySet, type KeySetJson, keySetToJson } from "./key-set.js";
import { decodeLaunchLog, type LaunchLog, type LaunchLogJson, launchLogToJson } from "./log.js";
import {
  decodePlatformEvidence,
  type PlatformEvidence,
  type PlatformEvidenceJson,
  platformEvidenceToJson,
} from "./platform.js";

/** The attestation-document schema version this module reads and writes. */
export const ATTESTATION_DOCUMENT_VERSION = 1;

/** Bounds on a document and its fields, in bytes (decoded) or counts. */
export const ATTESTATION_DOCUMENT_LIMITS = {
  /** The whole serialized document. */
  maxBytes: 4 * 1024 * 1024,
  /** TPMS_ATTEST (a quote over 24 PCRs of 4 banks is well under 1 KiB). */
  maxAttest: 2048,
  /** TPMT_SIGNATURE (RSA 4096 is 518 bytes). */
  maxSignature: 1024,
  /** TPM2B_PUBLIC. */
  maxPublic: 1024,
  /** A Name: a 2-byte algorithm id and a digest of at most 64 bytes. */
  maxName: 66,
  maxCertificate: MAX_CERTIFICATE_SIZE,
  maxIntermediates: 8,
  /** The TCG boot event log (firmware logs are typically 30–200 KiB). */
  maxBootEventLog: 2 * 1024 * 1024,
  /** PCR values: 24 PCRs in each of 4 banks. */
  maxPcrValues: 96,
} as const;

/** One PCR value as reported by the attester. */
export interface DocumentPcrValue {
  readonly bank: HashAlg;
  readonly index: number;
  readonly value: Uint8Array;
}

/** A decoded attestation document. Decoding implies no trust: see `verifyAttestationDocument`. */
export interface AttestationDocument {
  readonly version: typeof ATTESTATION_DOCUMENT_VERSION;
  /** TPM2_Quote's output: the TPMS_ATTEST bytes as signed and the TPMT_SIGNATURE. */
  readonly quote: { readonly attest: Uint8Array; readonly signature: Uint8Array };
  /** The values of the quoted PCRs, read right after the quote. */
  readonly pcrs: readonly DocumentPcrValue[];
  /** The attestation key: its TPM2B_PUBLIC and its Name. */
  readonly ak: { readonly public: Uint8Array; readonly name: Uint8Array };
  /**
   * The endorsement key: its TPM2B_PUBLIC (TCG default RSA 2048 template), its
   * certificate from the TPM's NV (null when the TPM has none), and CA
   * certificates the server knows for it — hints for path building, never trust anchors.
   */
  readonly ek: {
    readonly public: Uint8Array;
    readonly certificate: Uint8Array | null;
    readonly intermediates: readonly Uint8Array[];
  };
  /** The platform's TCG boot event log, or null when it has none (swtpm, or not readable). */
  readonly bootEventLog: Uint8Array | null;
  readonly launchLog: LaunchLog;
  readonly keySet: KeySet;
  /**
   * Confidential-computing evidence (SEV-SNP or TDX report, NVIDIA GPU
   * reports), each bound to the nonce and key set by its own report data;
   * empty for a TPM-only server.
   */
  readonly platform: readonly PlatformEvidence[];
}

/** The JSON form of an attestation document. */
export interface AttestationDocumentJson {
  readonly version: number;
  readonly quote: { readonly attest: string; readonly signature: string };
  readonly pcrs: readonly { readonly bank: string; readonly index: number; readonly value: string }[];
  readonly ak: { readonly public: string; readonly name: string };
  readonly ek: {
    readonly public: string;
    readonly certificate: string | null;
    readonly intermediates: readonly string[];
  };
  readonly bootEventLog: string | null;
  readonly launchLog: LaunchLogJson;
  readonly keySet: KeySetJson;
  readonly platform: readonly PlatformEvidenceJson[];
}

const BANKS: readonly HashAlg[] = ["sha1", "sha256", "sha384", "sha512"];
const L = ATTESTATION_DOCUMENT_LIMITS;

/**
 * The JSON form of a document. Its members are inserted in RFC 8785 order
 * and no member name looks like an array index, so `JSON.stringify` of the
 * result already is the canonical serialization.
 */
export function attestationDocumentToJson(doc: AttestationDocument): AttestationDocumentJson {
  const json = {
    ak: { name: toHex(doc.ak.name), public: base64Encode(doc.ak.public) },
    bootEventLog: doc.bootEventLog === null ? null : base64Encode(doc.bootEventLog),
    ek: {
      certificate: doc.ek.certificate === null ? null : base64Encode(doc.ek.certificate),
      intermediates: doc.ek.intermediates.map(base64Encode),
      public: base64Encode(doc.ek.public),
    },
    keySet: keySetToJson(doc.keySet),
    launchLog: launchLogToJson(doc.launchLog),
    pcrs: doc.pcrs.map((p) => ({ bank: p.bank, index: p.index, value: toHex(p.value) })),
    platform: platformEvidenceToJson(doc.platform),
    quote: { attest: base64Encode(doc.quote.attest), signature: base64Encode(doc.quote.signature) },
    version: doc.version,
  };
  // Re-parse the canonical text so nested objects (key set, launch log) get canonical member order too.
  return JSON.parse(new TextDecoder().decode(canonicalJsonBytes(json))) as AttestationDocumentJson;
}

/** The canonical bytes of a document (what a server sends; what {@link decodeAttestationDocument} accepts). */
export function encodeAttestationDocument(doc: AttestationDocument): Uint8Array {
  return canonicalJsonBytes(attestationDocumentToJson(doc));
}

/**
 * Decode an attestation document, strictly: the version-1 schema exactly,
 * canonical base64 and hex, every size within {@link ATTESTATION_DOCUMENT_LIMITS},
 * no PCR listed twice, and the launch log, key set and platform evidence
 * decoded by their own strict decoders. Bytes must be the document's RFC 8785 canonical JSON.
 * The TPM structures inside stay bytes; verification decodes them.
 *
 * @throws MalformedError naming the field.
 * @example
 * const doc = decodeAttestationDocument(new Uint8Array(await response.arrayBuffer()));
 */
export function decodeAttestationDocument(input: unknown): AttestationDocument {
  const what = "AttestationDocument";
  const value = input instanceof Uint8Array ? parseJsonBytes(input, what, { maxBytes: L.maxBytes }) : input;
  const o = expectMembers(value, what, [
    "version",
    "quote",
    "pcrs",
    "ak",
    "ek",
    "bootEventLog",
    "launchLog",
    "keySet",
    "platform",
  ]);
  if (o.version !== ATTESTATION_DOCUMENT_VERSION) {
    throw new MalformedError("unsupported", `${what}.version`, "not version 1");
  }
  const q = expectMembers(o.quote, `${what}.quote`, ["attest", "signature"]);
  const ak = expectMembers(o.ak, `${what}.ak`, ["public", "name"]);
  const ek = expectMembers(o.ek, `${what}.ek`, ["public", "certificate", "intermediates"]);
  const nameHex = ak.name;
  if (typeof nameHex !== "string" || nameHex.length > 2 * L.maxName || !/^([0-9a-f]{2})+$/.test(nameHex)) {
    throw new MalformedError("bad-hex", `${what}.ak.name`, "expected lower-case hex of at most 66 bytes");
  }
  const doc: AttestationDocument = {
    version: ATTESTATION_DOCUMENT_VERSION,
    quote: Object.freeze({
      attest: base64Decode(q.attest, `${what}.quote.attest`, L.maxAttest),
      signature: base64Decode(q.signature, `${what}.quote.signature`, L.maxSignature),
    }),
    pcrs: decodePcrs(o.pcrs, `${what}.pcrs`),
    ak: Object.freeze({
      public: base64Decode(ak.public, `${what}.ak.public`, L.maxPublic),
      name: fromHex(nameHex, `${what}.ak.name`),
    }),
    ek: Object.freeze({
      public: base64Decode(ek.public, `${what}.ek.public`, L.maxPublic),
      certificate:
        ek.certificate === null ? null : base64Decode(ek.certificate, `${what}.ek.certificate`, L.maxCertificate),
      intermediates: Object.freeze(
        expectArray(ek.intermediates, `${what}.ek.intermediates`, L.maxIntermediates).map((c, i) =>
          base64Decode(c, `${what}.ek.intermediates[${i}]`, L.maxCertificate),
        ),
      ),
    }),
    bootEventLog:
      o.bootEventLog === null ? null : base64Decode(o.bootEventLog, `${what}.bootEventLog`, L.maxBootEventLog),
    // A nested log is JSON, never bytes (decodeLaunchLog would take bytes as serialized JSON).
    launchLog: decodeLaunchLog(expectObject(o.launchLog, `${what}.launchLog`)),
    keySet: decodeKeySet(o.keySet, `${what}.keySet`),
    platform: decodePlatformEvidence(o.platform, `${what}.platform`),
  };
  return Object.freeze(doc);
}

function decodePcrs(value: unknown, what: string): readonly DocumentPcrValue[] {
  const seen = new Set<string>();
  const out = expectArray(value, what, L.maxPcrValues).map((item, i) => {
    const at = `${what}[${i}]`;
    const p = expectMembers(item, at, ["bank", "index", "value"]);
    const bank = BANKS.find((b) => b === p.bank);
    if (bank === undefined) throw new MalformedError("unsupported", `${at}.bank`, "unknown PCR bank");
    const index = expectInteger(p.index, `${at}.index`, 0, 23);
    const key = `${bank}:${index}`;
    if (seen.has(key)) throw new MalformedError("bad-value", at, "a PCR is listed twice");
    seen.add(key);
    const hex = expectHexDigest(p.value, `${at}.value`, digestSize(bank));
    return Object.freeze({ bank, index, value: fromHex(hex, `${at}.value`) });
  });
  return Object.freeze(out);
}

/**
 * The version of the credential-activation bodies. Version 1 (`{credentialBlob,
 * encryptedSecret}` → `{secret}`) made the endpoint a decryption oracle for any
 * credential made for the AK; version 2 ties each activation to an
 * attestation the server answered and returns a proof, never the secret.
 */
export const ACTIVATION_PROTOCOL_VERSION = 2;

/**
 * The body of `POST /v1/attestation/activate` (version 2): a credential made
 * for the AK's Name under the EK, and the nonce of the attestation it answers.
 */
export interface ActivationRequest {
  /** The nonce of the attestation this activation belongs to (16–64 bytes): the server's activation challenge. */
  readonly nonce: Uint8Array;
  /** TPM2B_ID_OBJECT contents (no size prefix), as `makeCredential` returns. */
  readonly credentialBlob: Uint8Array;
  /** TPM2B_ENCRYPTED_SECRET contents (no size prefix). */
  readonly encryptedSecret: Uint8Array;
}

/** The answer to an activation request (version 2): a proof of the recovered secret, never the secret. */
export interface ActivationResponse {
  /** 32 random bytes the server drew for this activation. */
  readonly serverNonce: Uint8Array;
  /** HMAC-SHA256(secret, "veritee-activation-proof-v2" ‖ serverNonce ‖ nonce): see `activationProof`. */
  readonly proof: Uint8Array;
}

/** Largest credential blob: TPMS_ID_OBJECT holds two TPM2B digests of at most 64 bytes (Part 2 §12.4.3). */
const MAX_CREDENTIAL_BLOB = 2 + 64 + 2 + 64;
/** Largest encrypted secret: sizeof(TPMU_ENCRYPTED_SECRET) for RSA 4096 or a P-521 point (Part 2 §11.4.33). */
const MAX_ENCRYPTED_SECRET = 512;

function expectActivationVersion(o: Readonly<Record<string, unknown>>, what: string): void {
  // A version 1 body has no `version`: say so rather than "missing member", since its fix is an upgrade.
  if (!Object.hasOwn(o, "version")) {
    throw new MalformedError("unsupported", `${what}.version`, "activation protocol version 1 is not served; use 2");
  }
}

/** The JSON body of an activation request. */
export function activationRequestToJson(request: ActivationRequest): JsonObject {
  return {
    credentialBlob: base64Encode(request.credentialBlob),
    encryptedSecret: base64Encode(request.encryptedSecret),
    nonce: base64Encode(request.nonce),
    version: ACTIVATION_PROTOCOL_VERSION,
  };
}

/**
 * Decode an activation request body (already parsed JSON): exactly
 * `credentialBlob`, `encryptedSecret`, `nonce` (canonical base64, bounded,
 * non-empty; the nonce 16–64 bytes) and `version` 2.
 *
 * @throws MalformedError naming the field (`unsupported` for a version 1 body).
 */
export function decodeActivationRequest(value: unknown): ActivationRequest {
  const what = "ActivationRequest";
  expectActivationVersion(expectObject(value, what), what);
  const o = expectMembers(value, what, ["credentialBlob", "encryptedSecret", "nonce", "version"]);
  expectInteger(o.version, `${what}.version`, ACTIVATION_PROTOCOL_VERSION, ACTIVATION_PROTOCOL_VERSION);
  const credentialBlob = base64Decode(o.credentialBlob, `${what}.credentialBlob`, MAX_CREDENTIAL_BLOB);
  const encryptedSecret = base64Decode(o.encryptedSecret, `${what}.encryptedSecret`, MAX_ENCRYPTED_SECRET);
  const nonce = base64Decode(o.nonce, `${what}.nonce`, NONCE_LENGTH.max);
  if (credentialBlob.length === 0) throw new MalformedError("bad-length", `${what}.credentialBlob`, "empty");
  if (encryptedSecret.length === 0) throw new MalformedError("bad-length", `${what}.encryptedSecret`, "empty");
  if (nonce.length < NONCE_LENGTH.min) {
    throw new MalformedError("bad-length", `${what}.nonce`, `shorter than ${NONCE_LENGTH.min} bytes`);
  }
  return Object.freeze({ nonce, credentialBlob, encryptedSecret });
}

/** The JSON body of an activation response: `{ "proof": b64, "serverNonce": b64, "version": 2 }`. */
export function activationResponseToJson(response: ActivationResponse): JsonObject {
  return {
    proof: base64Encode(response.proof),
    serverNonce: base64Encode(response.serverNonce),
    version: ACTIVATION_PROTOCOL_VERSION,
  };
}

/**
 * Decode an activation response body (already parsed JSON): exactly `proof`
 * and `serverNonce` (canonical base64, 32 bytes each) and `version` 2.
 *
 * @throws MalformedError naming the field (`unsupported` for a version 1 body, which carried the secret).
 */
export function decodeActivationResponse(value: unknown): ActivationResponse {
  const what = "ActivationResponse";
  expectActivationVersion(expectObject(value, what), what);
  const o = expectMembers(value, what, ["proof", "serverNonce", "version"]);
  expectInteger(o.version, `${what}.version`, ACTIVATION_PROTOCOL_VERSION, ACTIVATION_PROTOCOL_VERSION);
  const proof = base64Decode(o.proof, `${what}.proof`, ACTIVATION_PROOF_SIZE);
  const serverNonce = base64Decode(o.serverNonce, `${what}.serverNonce`, ACTIVATION_PROOF_SIZE);
  if (proof.length !== ACTIVATION_PROOF_SIZE) throw new MalformedError("bad-length", `${what}.proof`, "not 32 bytes");
  if (serverNonce.length !== ACTIVATION_PROOF_SIZE) {
    throw new MalformedError("bad-length", `${what}.serverNonce`, "not 32 bytes");
  }
  return Object.freeze({ serverNonce, proof });
}
