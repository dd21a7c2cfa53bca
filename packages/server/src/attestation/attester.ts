/**
 * The attester: the server's side of the attestation protocol
 * (docs/ATTESTATION.md). At creation it derives the TPM's EK (TCG default RSA
 * 2048 template), reads the EK certificate, creates and loads a fresh AK
 * (ECC P-256, restricted signing) under the EK, and checks that the
 * application PCR holds the launch log's replay. It then answers quotes bound
 * to a client's nonce and the key set, and credential-activation challenges.
 *
 * The EK and AK are transient objects held for the server's lifetime (the
 * TpmClient connection keeps them loaded; under /dev/tpmrm0 the kernel's
 * resource manager swaps them as needed). A new AK per launch means nothing
 * persists in the TPM's NV and AKs of different launches are unlinkable
 * except through the EK. Every TPM command goes through the TpmClient's
 * serial queue, so concurrent requests interleave safely.
 */
import { readFile } from "node:fs/promises";
import { bytesEqual, concatBytes, hash, randomBytes } from "@veritee/core";
import {
  ACTIVATION_PROOF_SIZE,
  ACTIVATION_SECRET_SIZE,
  type ActivationRequest,
  type ActivationResponse,
  ATTESTATION_DOCUMENT_LIMITS,
  ATTESTATION_DOCUMENT_VERSION,
  type AttestationDocument,
  activationProof,
  attestationExtraData,
  checkLaunchLogStructure,
  DEFAULT_BOOT_PCRS,
  DEFAULT_LAUNCH_PCR,
  type DocumentPcrValue,
  decodeTpmsAttest,
  type KeySet,
  keySetDigest,
  LAUNCH_PCR_RANGE,
  type LaunchLog,
  NONCE_LENGTH,
  type PlatformEvidence,
  replayLaunchLog,
} from "@veritee/evidence";
import { type LoadedObject, type TpmClient, TpmError } from "@veritee/tpm";
import type { PlatformCollector } from "../tee/collector.js";
import { type ActivationChallengeOptions, ActivationChallenges } from "./activation-challenges.js";
import { AttestationError } from "./errors.js";

/** Where Linux exposes the firmware's TCG event log (securityfs). */
export const SYSTEM_BOOT_EVENT_LOG = "/sys/kernel/security/tpm0/binary_bios_measurements";

/** Options of {@link createAttester}. */
export interface CreateAttesterOptions {
  readonly tpm: TpmClient;
  /** The attested key set (its digest must be the launch log's). */
  readonly keySet: KeySet;
  /** The sealed launch log that was extended into `appPcr`. */
  readonly launchLog: LaunchLog;
  /** The application PCR (default 15). */
  readonly appPcr?: number;
  /** The SHA-256 boot PCRs to quote (default 0–7). */
  readonly bootPcrs?: readonly number[];
  /** The EK to use: the TCG default RSA 2048 EK (template L-1), whose certificate is at NV 0x01c00002. */
  readonly ek?: "rsa2048";
  /** CA certificates (DER) of the EK certificate's issuers, shipped with the document as path-building hints. */
  readonly ekIntermediates?: readonly Uint8Array[];
  /**
   * The TCG boot event log to ship: `"system"` reads {@link SYSTEM_BOOT_EVENT_LOG}
   * (absent or unreadable: none), `"none"` ships none, bytes ship those.
   * Use `"none"` with a development swtpm: the machine's firmware log
   * describes the machine's TPM, not the simulator. Default `"system"`.
   */
  readonly bootEventLog?: "system" | "none" | Uint8Array;
  /**
   * Confidential-computing evidence for the document's `platform` member,
   * collected fresh for every attestation and bound to its nonce and key set
   * (`createPlatformCollector`). Default: none (`"platform": []`).
   */
  readonly platform?: PlatformCollector;
  /**
   * The AK: by default a fresh one per launch (ECC P-256, under the EK); a
   * persistent handle uses that TPM-resident key instead — on an Azure
   * confidential VM the vTPM AK at 0x81000003, which the HCL report names.
   * It must be a restricted signing key the verifier accepts, usable with an
   * empty password; it is never flushed.
   */
  readonly ak?: "fresh" | { readonly persistentHandle: number };
  /**
   * Credential activation's bounds: how long an attestation's activation
   * challenge stays usable (`ttlMs`, default 60 s), how many may be
   * outstanding (`maxOutstanding`, default 1024), how many activations may
   * run at once (`maxInFlight`, default 4), and the clock (tests).
   */
  readonly activation?: ActivationChallengeOptions & { readonly maxInFlight?: number };
}

/** A running attester. */
export interface Attester {
  /** The AK's TPM2B_PUBLIC. */
  readonly akPublic: Uint8Array;
  /** The AK's Name. */
  readonly akName: Uint8Array;
  /** The EK's TPM2B_PUBLIC. */
  readonly ekPublic: Uint8Array;
  /** The EK certificate (DER), or null when the TPM has none. */
  readonly ekCertificate: Uint8Array | null;
  /** The key-set digest every quote binds. */
  readonly keySetDigest: Uint8Array;
  /**
   * Quote the boot PCRs and the application PCR with extraData =
   * SHA-256("veritee-attestation-v1" || nonce || keySetDigest), collect the
   * platform evidence for the same nonce and key set, and return the
   * attestation document.
   *
   * @throws AttestationError `bad-nonce` (not 16–64 bytes), `tpm-failed`, `platform-failed`, `closed`.
   */
  attest(nonce: Uint8Array): Promise<AttestationDocument>;
  /**
   * Credential activation, protocol version 2: consume the activation
   * challenge that {@link attest} issued for `request.nonce`, run
   * TPM2_ActivateCredential with the EK (EK policy) and the AK, and return a
   * proof of the recovered secret, HMAC-SHA256(secret, "veritee-activation-proof-v2"
   * ‖ serverNonce ‖ nonce) with a fresh 32-byte serverNonce. The secret itself
   * never leaves: this is no decryption oracle for credentials made for the AK.
   *
   * @throws AttestationError `activation-unknown` (no outstanding attestation
   *   for the nonce: never attested, already used), `activation-expired`,
   *   `busy` (too many in flight), `credential-rejected` (the TPM refused it,
   *   or its secret is not a Veritee challenge's), `tpm-failed`, `closed`.
   */
  activateCredential(request: ActivationRequest): Promise<ActivationResponse>;
  /** Flush the AK and EK from the TPM; later calls fail with `closed`. Does not close the TpmClient. */
  close(): Promise<void>;
}

/** Attempts at a quote whose PCR digest matches the values read after it. */
const QUOTE_ATTEMPTS = 3;

/** Default bound on concurrent credential activations (each is an RSA decryption in the TPM). */
const DEFAULT_ACTIVATIONS_IN_FLIGHT = 4;

async function readBootEventLog(option: CreateAttesterOptions["bootEventLog"]): Promise<Uint8Array | null> {
  if (option === "none") return null;
  let bytes: Uint8Array | null;
  if (option === undefined || option === "system") {
    try {
      bytes = new Uint8Array(await readFile(SYSTEM_BOOT_EVENT_LOG));
    } catch {
      // Absent (no TPM driver, a container without securityfs) or not readable by this user.
      bytes = null;
    }
  } else {
    bytes = option.slice();
  }
  if (bytes !== null && bytes.length > ATTESTATION_DOCUMENT_LIMITS.maxBootEventLog) {
    throw new AttestationError("bad-argument", "the boot event log is larger than an attestation document allows");
  }
  return bytes;
}

function tpmFailure(what: string, cause: unknown): AttestationError {
  return new AttestationError("tpm-failed", what, { cause });
}

/**
 * Create the attester: EK, EK certificate, AK, boot event log, and a check
 * that the application PCR holds the launch log's replay (otherwise every
 * quote would fail verification, so the server must not serve).
 *
 * @throws AttestationError `bad-argument` (inconsistent inputs), `pcr-mismatch`, `tpm-failed`.
 * @example
 * const attester = await createAttester({ tpm, keySet: keys.keySet, launchLog, bootEventLog: "none" });
 * const doc = await attester.attest(nonce);
 */
export async function createAttester(options: CreateAttesterOptions): Promise<Attester> {
  const { tpm, keySet, launchLog } = options;
  const appPcr = options.appPcr ?? DEFAULT_LAUNCH_PCR;
  const bootPcrs = [...(options.bootPcrs ?? DEFAULT_BOOT_PCRS)].sort((a, b) => a - b);
  if (!Number.isInteger(appPcr) || appPcr < LAUNCH_PCR_RANGE.min || appPcr > LAUNCH_PCR_RANGE.max) {
    throw new AttestationError("bad-argument", "the application PCR must be 8..15");
  }
  if (
    bootPcrs.length === 0 ||
    new Set(bootPcrs).size !== bootPcrs.length ||
    bootPcrs.some((p) => !Number.isInteger(p) || p < 0 || p > 23 || p === appPcr)
  ) {
    throw new AttestationError(
      "bad-argument",
      "boot PCRs must be distinct indices 0..23 other than the application PCR",
    );
  }
  if ((options.ek ?? "rsa2048") !== "rsa2048") throw new AttestationError("bad-argument", "only the RSA 2048 EK");
  if (launchLog.pcr !== appPcr) throw new AttestationError("bad-argument", "the launch log is for another PCR");
  const digest = keySetDigest(keySet);
  let loggedDigest: Uint8Array;
  try {
    loggedDigest = checkLaunchLogStructure(launchLog).keySetDigest;
  } catch (cause) {
    throw new AttestationError("bad-argument", "the launch log is not sealed and complete", { cause });
  }
  if (!bytesEqual(loggedDigest, digest)) {
    throw new AttestationError("bad-argument", "the key set is not the one the launch log measured");
  }
  const challenges = new ActivationChallenges(options.activation);
  const maxActivationsInFlight = options.activation?.maxInFlight ?? DEFAULT_ACTIVATIONS_IN_FLIGHT;
  if (!Number.isSafeInteger(maxActivationsInFlight) || maxActivationsInFlight <= 0) {
    throw new AttestationError("bad-argument", "the bound on concurrent activations must be positive");
  }
  const bootEventLog = await readBootEventLog(options.bootEventLog);

  let current: Uint8Array | undefined;
  try {
    current = (await tpm.pcrRead({ sha256: [appPcr] })).get("sha256")?.get(appPcr);
  } catch (cause) {
    throw tpmFailure("reading the application PCR failed", cause);
  }
  if (current === undefined || !bytesEqual(current, replayLaunchLog(launchLog))) {
    throw new AttestationError("pcr-mismatch", `PCR ${appPcr} does not hold the launch log's replay`);
  }

  let ek: LoadedObject | undefined;
  let ak: LoadedObject | undefined;
  let persistentAk = false;
  try {
    ek = await tpm.createEk("rsa2048");
    let ekCertificate: Uint8Array | null;
    try {
      ekCertificate = await tpm.readEkCertificate("rsa2048");
    } catch (error) {
      // TPM_RC_HANDLE: no certificate in NV (some vTPMs publish it elsewhere). Anything else is a real failure.
      if (!(error instanceof TpmError && error.code === "TPM_RC_HANDLE")) throw error;
      ekCertificate = null;
    }
    const akChoice = options.ak ?? "fresh";
    if (akChoice === "fresh") {
      const created = await tpm.createAk(ek.handle, "ecc-p256");
      ak = await tpm.load(ek.handle, created);
    } else {
      if (!Number.isInteger(akChoice.persistentHandle) || akChoice.persistentHandle >>> 24 !== 0x81) {
        throw new AttestationError("bad-argument", "the AK's persistent handle must be 0x81xxxxxx");
      }
      const read = await tpm.readPublic(akChoice.persistentHandle);
      persistentAk = true;
      ak = { handle: read.handle, publicArea: read.publicArea, name: read.name };
    }
    return new TpmAttester({
      tpm,
      ek,
      ak,
      ekCertificate,
      ekIntermediates: (options.ekIntermediates ?? []).map((c) => c.slice()),
      bootEventLog,
      launchLog,
      keySet,
      keySetDigest: digest,
      selection: [...bootPcrs, appPcr].sort((a, b) => a - b),
      platform: options.platform,
      persistentAk,
      challenges,
      maxActivationsInFlight,
    });
  } catch (error) {
    if (error instanceof AttestationError) {
      if (ek !== undefined) await tpm.flushContext(ek.handle).catch(() => undefined);
      throw error;
    }
    if (ak !== undefined && !persistentAk) await tpm.flushContext(ak.handle).catch(() => undefined);
    if (ek !== undefined) await tpm.flushContext(ek.handle).catch(() => undefined);
    throw tpmFailure("creating the EK and AK failed", error);
  }
}

interface AttesterState {
  readonly tpm: TpmClient;
  readonly ek: LoadedObject;
  readonly ak: LoadedObject;
  readonly ekCertificate: Uint8Array | null;
  readonly ekIntermediates: readonly Uint8Array[];
  readonly bootEventLog: Uint8Array | null;
  readonly launchLog: LaunchLog;
  readonly keySet: KeySet;
  readonly keySetDigest: Uint8Array;
  /** The SHA-256 PCRs quoted, ascending. */
  readonly selection: readonly number[];
  readonly platform: PlatformCollector | undefined;
  /** The AK is a persistent object: never flushed. */
  readonly persistentAk: boolean;
  /** Activation challenges issued by attest(), consumed by activateCredential(). */
  readonly challenges: ActivationChallenges;
  readonly maxActivationsInFlight: number;
}

class TpmAttester implements Attester {
  readonly #s: AttesterState;
  #closed = false;
  #activationsInFlight = 0;

  constructor(state: AttesterState) {
    this.#s = state;
  }

  get akPublic(): Uint8Array {
    return this.#s.ak.publicArea.slice();
  }
  get akName(): Uint8Array {
    return this.#s.ak.name.slice();
  }
  get ekPublic(): Uint8Array {
    return this.#s.ek.publicArea.slice();
  }
  get ekCertificate(): Uint8Array | null {
    return this.#s.ekCertificate?.slice() ?? null;
  }
  get keySetDigest(): Uint8Array {
    return this.#s.keySetDigest.slice();
  }

  async attest(nonce: Uint8Array): Promise<AttestationDocument> {
    if (!(nonce instanceof Uint8Array) || nonce.length < NONCE_LENGTH.min || nonce.length > NONCE_LENGTH.max) {
      throw new AttestationError("bad-nonce", `the nonce must be ${NONCE_LENGTH.min}..${NONCE_LENGTH.max} bytes`);
    }
    if (this.#closed) throw new AttestationError("closed", "the attester is closed");
    const s = this.#s;
    const extraData = attestationExtraData(nonce, s.keySetDigest);
    const selection = { sha256: [...s.selection] };
    let platform: readonly PlatformEvidence[] = [];
    if (s.platform !== undefined) {
      try {
        platform = Object.freeze(await s.platform.collect(nonce.slice(), s.keySetDigest.slice()));
      } catch (cause) {
        throw new AttestationError("platform-failed", "collecting the platform evidence failed", { cause });
      }
    }
    for (let attempt = 1; ; attempt++) {
      let quote: { attest: Uint8Array; signature: Uint8Array };
      let values: Map<number, Uint8Array> | undefined;
      try {
        quote = await s.tpm.quote(s.ak.handle, extraData, selection);
        values = (await s.tpm.pcrRead(selection)).get("sha256");
      } catch (cause) {
        throw tpmFailure("the quote failed", cause);
      }
      const ordered = s.selection.map((p) => values?.get(p));
      if (ordered.some((v) => v === undefined)) throw tpmFailure("the TPM did not return every quoted PCR", undefined);
      // The PCRs are read after the quote, in a separate queued operation; if anything extended one in between,
      // the values would not match the signed digest, and the document would not verify. Quote again.
      let signedDigest: Uint8Array | undefined;
      try {
        const signed = decodeTpmsAttest(quote.attest);
        signedDigest = signed.attested.type === "quote" ? signed.attested.pcrDigest : undefined;
      } catch (cause) {
        throw tpmFailure("the TPM returned a quote that does not decode", cause);
      }
      const digest = hash("sha256", concatBytes(...(ordered as Uint8Array[])));
      if (signedDigest !== undefined && bytesEqual(signedDigest, digest)) {
        const pcrs: DocumentPcrValue[] = s.selection.map((index, i) => ({
          bank: "sha256",
          index,
          value: ordered[i]!,
        }));
        // The document answers this nonce: from now, one credential activation may follow, for a while.
        s.challenges.issue(nonce);
        return Object.freeze({
          version: ATTESTATION_DOCUMENT_VERSION,
          quote: Object.freeze({ attest: quote.attest, signature: quote.signature }),
          pcrs: Object.freeze(pcrs),
          ak: Object.freeze({ public: s.ak.publicArea, name: s.ak.name }),
          ek: Object.freeze({
            public: s.ek.publicArea,
            certificate: s.ekCertificate,
            intermediates: s.ekIntermediates,
          }),
          bootEventLog: s.bootEventLog,
          launchLog: s.launchLog,
          keySet: s.keySet,
          platform,
        });
      }
      if (attempt >= QUOTE_ATTEMPTS) {
        throw new AttestationError("tpm-failed", "the quoted PCRs kept changing between the quote and the read");
      }
    }
  }

  async activateCredential(request: ActivationRequest): Promise<ActivationResponse> {
    if (this.#closed) throw new AttestationError("closed", "the attester is closed");
    const s = this.#s;
    // Refuse before consuming the challenge, so that a client told to wait can retry with it.
    if (this.#activationsInFlight >= s.maxActivationsInFlight) {
      throw new AttestationError("busy", "too many credential activations are in flight");
    }
    // Only for an attestation this server answered moments ago, once: no credential reaches the TPM otherwise.
    s.challenges.take(request.nonce);
    this.#activationsInFlight++;
    let secret: Uint8Array;
    try {
      secret = await s.tpm.activateCredential(
        s.ak.handle,
        s.ek.handle,
        request.credentialBlob,
        request.encryptedSecret,
      );
    } catch (error) {
      // A TPM response code means the TPM looked at the credential and refused it (it was made for
      // another EK or another Name, or is malformed): the caller's fault. Anything else is ours.
      if (error instanceof TpmError && (error.rc !== undefined || error.code === "bad-argument")) {
        throw new AttestationError("credential-rejected", "the TPM refused the credential", { cause: error });
      }
      throw tpmFailure("credential activation failed", error);
    } finally {
      this.#activationsInFlight--;
    }
    try {
      // A Veritee verifier's secret is 32 random bytes; a credential of any other size was made for
      // another protocol, and gets no answer at all.
      if (secret.length !== ACTIVATION_SECRET_SIZE) {
        throw new AttestationError("credential-rejected", "the credential does not hold a Veritee challenge");
      }
      const serverNonce = randomBytes(ACTIVATION_PROOF_SIZE);
      return Object.freeze({ serverNonce, proof: activationProof(secret, serverNonce, request.nonce) });
    } finally {
      secret.fill(0);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#s.persistentAk) await this.#s.tpm.flushContext(this.#s.ak.handle).catch(() => undefined);
    await this.#s.tpm.flushContext(this.#s.ek.handle).catch(() => undefined);
  }
}
