/**
 * End-to-end verification of a Veritee attestation document, verifier side
 * and runtime-agnostic (no I/O, clock and trust anchors injected). Each step
 * says what it proves; docs/ATTESTATION.md repeats them for other
 * implementations.
 */
import { bytesEqual, type HashAlg, MalformedError } from "@veritee/core";
import { VerificationError } from "../errors.js";
import { decodeEventLog } from "../eventlog/decode.js";
import { type VerifiedEventLog, verifyEventLogAgainstPcrs } from "../eventlog/verify.js";
import { decodeAkPublic } from "../tpm/ak.js";
import type { PcrValues } from "../tpm/pcr-selection.js";
import { type DecodedTpmtPublic, decodeTpm2bPublic } from "../tpm/public.js";
import { publicKeyJwk } from "../tpm/public-key.js";
import { type VerifiedQuote, verifyQuote } from "../tpm/quote.js";
import { type VerifiedCertificateChain, verifyCertificateChain } from "../x509/chain.js";
import { verifyCertificateKey } from "../x509/key-match.js";
import { attestationExtraData, NONCE_LENGTH } from "./binding.js";
import { type AttestationDocument, attestationDocumentToJson, decodeAttestationDocument } from "./document.js";
import { checkDefaultEk } from "./ek.js";
import { type KeySet, keySetDigest } from "./key-set.js";
import { DEFAULT_LAUNCH_PCR, LAUNCH_PCR_RANGE } from "./log.js";
import { checkLaunchLogStructure, type VerifiedLaunchLog, verifyLaunchLog } from "./verify.js";
import { type PlatformVerifyOptions, type VerifiedPlatform, verifyPlatformEvidence } from "./verify-platform.js";

/** The boot PCRs quoted by default: the firmware's (TCG PC Client PFP §3.3.4: PCRs 0–7). */
export const DEFAULT_BOOT_PCRS: readonly number[] = Object.freeze([0, 1, 2, 3, 4, 5, 6, 7]);

/** Inputs to {@link verifyAttestationDocument}. */
export interface VerifyAttestationOptions {
  /** The fresh nonce the verifier sent (16–64 bytes). */
  readonly nonce: Uint8Array;
  /** The time to validate the EK certificate chain at (never an implicit "now"). */
  readonly at: Date;
  /** Trust anchors for the EK certificate: the TPM makers' (or the cloud's) endorsement root CAs, DER. */
  readonly ekRoots: readonly Uint8Array[];
  /** Intermediate CA certificates (DER) to build the EK path with, besides the document's own hints. */
  readonly ekIntermediates?: readonly Uint8Array[];
  /** An extended key usage the EK certificate must carry (e.g. `TCG_KP_EK_CERTIFICATE`); none by default. */
  readonly ekRequiredEku?: string;
  /** The application PCR (default 15). */
  readonly appPcr?: number;
  /** The SHA-256 boot PCRs the quote must cover (default 0–7). */
  readonly bootPcrs?: readonly number[];
  /**
   * Trust anchors and collateral for the document's platform evidence
   * (SEV-SNP, TDX, NVIDIA GPUs). Every entry present is verified whether or
   * not policy requires it; a TDX entry needs `platform.tdx`.
   */
  readonly platform?: PlatformVerifyOptions;
}

/**
 * How the AK is known to live in the TPM whose EK is certified:
 * - `"unproven"`: not shown. The EK certificate proves only the EK; the quote
 *   proves only that *some* AK signed. A TPM elsewhere could have made the quote.
 * - `"credential-activation"`: the TPM holding the certified EK recovered a
 *   secret encrypted for this AK's Name (TPM 2.0 Part 1 §24), so the AK is
 *   resident in that TPM.
 */
export type AkResidency = "unproven" | "credential-activation";

const TOKEN: unique symbol = Symbol("VerifiedAttestation");

/** Everything a verified attestation carries; see {@link VerifiedAttestation}. */
interface VerifiedAttestationInit {
  readonly document: AttestationDocument;
  readonly quote: VerifiedQuote;
  readonly ekChain: VerifiedCertificateChain;
  readonly ekPublic: DecodedTpmtPublic;
  readonly launch: VerifiedLaunchLog;
  readonly keySetDigest: Uint8Array;
  readonly nonce: Uint8Array;
  readonly appPcr: number;
  readonly bootPcrs: ReadonlyMap<number, Uint8Array>;
  readonly bootEventLog: VerifiedEventLog | undefined;
  readonly platform: VerifiedPlatform;
}

/**
 * An attestation document whose every check passed. Only
 * {@link verifyAttestationDocument} (and {@link confirmAkResidency}, which
 * upgrades `akResidency`) construct one.
 *
 * What it vouches for: the EK certificate chains to a given root and
 * certifies the EK in the document; the AK in the document signed a quote
 * whose extraData binds the verifier's nonce to this key set; the quote
 * covers the boot PCRs and the application PCR; the launch log is sealed and
 * replays to the quoted application PCR; the log's key-set digest is this key
 * set's; the boot event log, when present, replays to the quoted boot PCRs.
 * Unless `akResidency` is `"credential-activation"`, nothing ties the AK to
 * the certified EK. Whether the measurements are acceptable is for policy.
 */
export class VerifiedAttestation {
  readonly #brand = true;
  /** The decoded document. */
  readonly document: AttestationDocument;
  /** The verified quote. */
  readonly quote: VerifiedQuote;
  /** The EK certificate's verified chain. */
  readonly ekChain: VerifiedCertificateChain;
  /** The EK's public area, which the certificate certifies. */
  readonly ekPublic: DecodedTpmtPublic;
  /** The AK's Name. */
  readonly akName: Uint8Array;
  /** Whether the AK is proven resident in the EK's TPM. */
  readonly akResidency: AkResidency;
  /** The verified launch log. */
  readonly launch: VerifiedLaunchLog;
  /** The attested key set. */
  readonly keySet: KeySet;
  /** SHA-256 of the key set's canonical encoding. */
  readonly keySetDigest: Uint8Array;
  /** The nonce the quote is bound to. */
  readonly nonce: Uint8Array;
  /** The application PCR. */
  readonly appPcr: number;
  /** The quoted SHA-256 boot PCR values, by index. */
  readonly bootPcrs: ReadonlyMap<number, Uint8Array>;
  /** The boot event log verified against the boot PCRs, when the document has one. */
  readonly bootEventLog: VerifiedEventLog | undefined;
  /** The verified platform evidence (SEV-SNP, TDX, GPUs), each bound to the nonce and the key set. */
  readonly platform: VerifiedPlatform;

  /** Not for callers: use {@link verifyAttestationDocument}. */
  constructor(token: typeof TOKEN, init: VerifiedAttestationInit, akResidency: AkResidency) {
    if (token !== TOKEN) throw new TypeError("VerifiedAttestation is made by verifyAttestationDocument");
    this.document = init.document;
    this.quote = init.quote;
    this.ekChain = init.ekChain;
    this.ekPublic = init.ekPublic;
    this.akName = init.quote.akName;
    this.akResidency = akResidency;
    this.launch = init.launch;
    this.keySet = init.document.keySet;
    this.keySetDigest = init.keySetDigest;
    this.nonce = init.nonce;
    this.appPcr = init.appPcr;
    this.bootPcrs = init.bootPcrs;
    this.bootEventLog = init.bootEventLog;
    this.platform = init.platform;
    Object.freeze(this);
  }

  /** True only for values made by this module. */
  static is(value: unknown): value is VerifiedAttestation {
    return typeof value === "object" && value !== null && #brand in value;
  }
}

/** The same verified attestation with the AK proven resident. Internal to `challenge.ts`. */
export function withAkResident(verified: VerifiedAttestation): VerifiedAttestation {
  return new VerifiedAttestation(
    TOKEN,
    {
      document: verified.document,
      quote: verified.quote,
      ekChain: verified.ekChain,
      ekPublic: verified.ekPublic,
      launch: verified.launch,
      keySetDigest: verified.keySetDigest,
      nonce: verified.nonce,
      appPcr: verified.appPcr,
      bootPcrs: verified.bootPcrs,
      bootEventLog: verified.bootEventLog,
      platform: verified.platform,
    },
    "credential-activation",
  );
}

function checkPcrIndices(appPcr: number, bootPcrs: readonly number[]): void {
  if (!Number.isInteger(appPcr) || appPcr < LAUNCH_PCR_RANGE.min || appPcr > LAUNCH_PCR_RANGE.max) {
    throw new RangeError("appPcr must be a static OS PCR, 8..15");
  }
  if (bootPcrs.length === 0 || bootPcrs.some((p) => !Number.isInteger(p) || p < 0 || p > 23 || p === appPcr)) {
    throw new RangeError("bootPcrs must be PCR indices 0..23 other than the application PCR");
  }
}

/**
 * Verify an attestation document — its bytes, its parsed JSON, or a decoded
 * {@link AttestationDocument} — for a nonce the verifier chose. Steps, each with what it proves and its error:
 *
 * 1. decode strictly (`MalformedError`);
 * 2. the EK certificate is present (`ek-certificate-missing`), chains to one of
 *    `ekRoots` at `at` (`cert-*`), and certifies the document's EK public key
 *    (`key-mismatch`), whose public area is a TCG default EK, template L-1 or
 *    L-2 (`ek-attributes`): the EK belongs to a genuine TPM;
 * 3. the AK's Name is the Name of its public area (`name-mismatch`);
 * 4. the launch log is sealed (`launch-log-unsealed`) and complete
 *    (`launch-log-incomplete`), and its key-set digest is the digest of the
 *    document's key set (`key-set-mismatch`);
 * 5. the quote: signed by the AK, a restricted TPM-resident signing key
 *    (`signature-invalid`, `ak-attributes`, ...), over extraData =
 *    SHA-256("veritee-attestation-v1" || nonce || keySetDigest)
 *    (`nonce-mismatch`: a wrong nonce, a replayed document, or another key
 *    set), and over exactly the PCR values listed (`pcr-digest-mismatch`,
 *    `pcr-values-mismatch`), which include the SHA-256 boot PCRs and the
 *    application PCR (`pcr-values-missing`);
 * 6. the launch log replays to the quoted application PCR
 *    (`launch-log-mismatch`): these launch measurements, and nothing else,
 *    reached that PCR since reset;
 * 7. a boot event log, when present, replays to the quoted boot PCRs
 *    (`eventlog-replay-mismatch`), and its events' data matches their
 *    digests where the PFP defines them as its hash (`eventlog-data-mismatch`;
 *    other data is exposed as unverified, `VerifiedEventLog.unverifiedEvents`);
 * 8. each platform evidence entry verifies at `at` with its vendor's
 *    verifier (`snp-*`, `tdx-*`, `nvidia-*`, `cert-*`, ...) and is bound to
 *    the nonce and the key set: GPU nonces by `gpuNonceBinding`, the CPU
 *    report data by `platformReportData`, which also pins the GPU reports
 *    (`platform-binding-mismatch`); a TDX quote without collateral fails
 *    (`platform-collateral-missing`); an Azure vTPM HCL report must name
 *    the AK that signed step 5's quote (`azure-ak-mismatch`), which binds
 *    it to the nonce and the key set.
 *
 * The result's `akResidency` is `"unproven"`: run {@link challengeAk} and
 * {@link confirmAkResidency} (credential activation) to tie the AK to the EK.
 *
 * @throws MalformedError, VerificationError (codes above); RangeError for a
 *   nonce outside 16–64 bytes or bad PCR options.
 * @example
 * const nonce = randomBytes(32);
 * const doc = await (await fetch(`${url}/v1/attestation?nonce=${toHex(nonce)}`)).json();
 * const verified = await verifyAttestationDocument(doc, { nonce, at: new Date(), ekRoots });
 */
export async function verifyAttestationDocument(
  input: unknown,
  options: VerifyAttestationOptions,
): Promise<VerifiedAttestation> {
  const appPcr = options.appPcr ?? DEFAULT_LAUNCH_PCR;
  const bootPcrs = options.bootPcrs ?? DEFAULT_BOOT_PCRS;
  checkPcrIndices(appPcr, bootPcrs);
  const nonce = options.nonce.slice();
  if (nonce.length < NONCE_LENGTH.min || nonce.length > NONCE_LENGTH.max) {
    throw new RangeError(`the nonce must be ${NONCE_LENGTH.min}..${NONCE_LENGTH.max} bytes`);
  }

  // 1. Decode.
  const doc = decodeAny(input);

  // 2. The EK: certificate chain and key match.
  if (doc.ek.certificate === null) {
    throw new VerificationError("ek-certificate-missing", "the document carries no EK certificate");
  }
  const ekChain = await verifyCertificateChain({
    leaf: doc.ek.certificate,
    intermediates: [...doc.ek.intermediates, ...(options.ekIntermediates ?? [])],
    roots: options.ekRoots,
    at: options.at,
    ...(options.ekRequiredEku === undefined ? {} : { requiredEku: options.ekRequiredEku }),
  });
  const ekPublic = decodeTpm2bPublic(doc.ek.public);
  verifyCertificateKey(ekChain, { jwk: publicKeyJwk(ekPublic) });
  checkDefaultEk(ekPublic);

  // 3. The AK's Name.
  const ak = decodeAkPublic(doc.ak.public);
  if (!bytesEqual(ak.name, doc.ak.name)) {
    throw new VerificationError("name-mismatch", "the AK's Name is not the Name of its public area");
  }

  // 4. Launch log structure and the key set.
  const summary = checkLaunchLogStructure(doc.launchLog);
  const digest = keySetDigest(doc.keySet);
  if (!bytesEqual(digest, summary.keySetDigest)) {
    throw new VerificationError("key-set-mismatch", "the key set is not the one the launch log measured");
  }

  // 5. The quote, bound to the nonce and the key set, over the listed PCR values.
  const pcrValues = pcrValueMap(doc);
  const quote = await verifyQuote({
    akPublic: ak,
    attest: doc.quote.attest,
    signature: doc.quote.signature,
    expectedExtraData: attestationExtraData(nonce, digest),
    pcrValues,
    requirePcrValues: true,
    expectedAkName: doc.ak.name,
  });
  const quoted = quote.pcrValues!;
  for (const p of doc.pcrs) {
    if (quoted.get(p.bank)?.get(p.index) === undefined) {
      throw new VerificationError("pcr-values-mismatch", "the document lists a PCR the quote does not cover");
    }
  }
  const sha256 = quoted.get("sha256");
  const missing = [...bootPcrs, appPcr].filter((p) => sha256?.get(p) === undefined);
  if (missing.length > 0) {
    throw new VerificationError("pcr-values-missing", `the quote does not cover SHA-256 PCR(s) ${missing.join(", ")}`);
  }

  // 6. The launch log against the quoted application PCR.
  const launch = verifyLaunchLog(doc.launchLog, sha256!.get(appPcr)!, { pcr: appPcr });

  // 7. The boot event log against the quoted boot PCRs.
  const bootEventLog =
    doc.bootEventLog === null
      ? undefined
      : verifyEventLogAgainstPcrs(decodeEventLog(doc.bootEventLog), quoted, {
          banks: ["sha256"],
          pcrs: bootPcrs,
        });

  // 8. Platform evidence, bound to the same nonce and key set.
  const platform = await verifyPlatformEvidence(
    doc.platform,
    {
      nonce,
      keySetDigest: digest,
      at: options.at,
      quote: {
        attest: doc.quote.attest,
        signature: doc.quote.signature,
        akPublic: doc.ak.public,
        extraData: attestationExtraData(nonce, digest),
      },
    },
    options.platform,
  );

  const boot = new Map<number, Uint8Array>();
  for (const p of [...bootPcrs].sort((a, b) => a - b)) boot.set(p, sha256!.get(p)!);
  return new VerifiedAttestation(
    TOKEN,
    {
      document: doc,
      quote,
      ekChain,
      ekPublic,
      launch,
      keySetDigest: digest,
      nonce,
      appPcr,
      bootPcrs: boot,
      bootEventLog,
      platform,
    },
    "unproven",
  );
}

/**
 * Bytes and parsed JSON are decoded; an already decoded document (e.g. an
 * attester's own, in tests) is re-encoded and decoded again, so it passes
 * exactly the checks a received one does.
 */
function decodeAny(input: unknown): AttestationDocument {
  if (input instanceof Uint8Array || !isDecodedDocument(input)) return decodeAttestationDocument(input);
  let json: unknown;
  try {
    json = attestationDocumentToJson(input);
  } catch (cause) {
    throw new MalformedError("bad-value", "AttestationDocument", "not an encodable attestation document", { cause });
  }
  return decodeAttestationDocument(json);
}

function isDecodedDocument(input: unknown): input is AttestationDocument {
  if (typeof input !== "object" || input === null) return false;
  const quote = (input as { quote?: unknown }).quote;
  return typeof quote === "object" && quote !== null && (quote as { attest?: unknown }).attest instanceof Uint8Array;
}

function pcrValueMap(doc: AttestationDocument): PcrValues {
  const map = new Map<HashAlg, Map<number, Uint8Array>>();
  for (const p of doc.pcrs) {
    let bank = map.get(p.bank);
    if (bank === undefined) {
      bank = new Map();
      map.set(p.bank, bank);
    }
    bank.set(p.index, p.value);
  }
  return map;
}
