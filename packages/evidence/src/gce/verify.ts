/**
 * Verification of a Google Compute Engine vTPM attestation
 * (go-tpm-tools `attest.Attestation`), after go-tpm-tools' server
 * `VerifyAttestation`: the AK certificate chains to Google's EK/AK CA at the
 * pinned time and certifies the AK; every quote is signed by that AK over the
 * verifier's nonce and matches its PCR values; the event log replays to the
 * quoted PCRs. Only then is the machine state returned.
 */
import { bytesEqual, type HashAlg } from "@veritee/core";
import { VerificationError } from "../errors.js";
import { decodeEventLog } from "../eventlog/decode.js";
import { type VerifiedEventLog, verifyEventLogAgainstPcrs } from "../eventlog/verify.js";
import { type AkPublic, akPublicFromDecoded } from "../tpm/ak.js";
import type { PcrValues } from "../tpm/pcr-selection.js";
import { type DecodedTpmtPublic, decodeTpmtPublic } from "../tpm/public.js";
import { publicKeyJwk } from "../tpm/public-key.js";
import { type VerifiedQuote, verifyQuote } from "../tpm/quote.js";
import { type VerifiedCertificateChain, verifyCertificateChain } from "../x509/chain.js";
import { verifyCertificateKey } from "../x509/key-match.js";
import { decodeGceAttestation, type GceAttestation, type GceInstanceInfo } from "./attestation-pb.js";

/** Inputs to {@link verifyGceAttestation}. */
export interface VerifyGceAttestationOptions {
  /** The serialized `attest.Attestation`. */
  readonly attestation: Uint8Array;
  /** The nonce the verifier sent; every quote's extraData must equal it. */
  readonly nonce: Uint8Array;
  /** Trust anchors for the AK certificate (Google's EK/AK root CA, DER). */
  readonly roots: readonly Uint8Array[];
  /** Extra intermediate CA certificates (DER), added to those the attestation carries. */
  readonly intermediates?: readonly Uint8Array[];
  /** The time to validate certificates at. Required: never an implicit "now". */
  readonly at: Date;
  /** An extended key usage the AK certificate must list (Google's carry tcg-kp-EKCertificate, 2.23.133.8.1). */
  readonly requiredEku?: string;
  /**
   * The banks the event log must replay to. Default: every quoted bank that
   * the log has digests for (at least one; a crypto-agile GCE log carries
   * SHA-1 and SHA-256 while the TPM also quotes SHA-384).
   */
  readonly eventLogBanks?: readonly HashAlg[];
  /**
   * The PCRs the event log must replay to, in each of `eventLogBanks`.
   * Default {@link GCE_EVENT_LOG_PCRS}, 0–9. PCRs outside the firmware log
   * (10 for IMA, 11–23) are extended by the OS or not at all, so the firmware
   * log cannot account for them.
   */
  readonly eventLogPcrs?: readonly number[];
}

/**
 * The PCRs the TCG firmware event log accounts for on GCE: 0–7, which the
 * SRTM firmware extends (TCG PC Client PFP §3.3.4.1), and 8–9, which GRUB
 * extends with its commands and the files it loads.
 */
export const GCE_EVENT_LOG_PCRS: readonly number[] = Object.freeze([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

const TOKEN: unique symbol = Symbol("VerifiedGceAttestation");

/**
 * A GCE attestation whose every check passed. Only
 * {@link verifyGceAttestation} makes one.
 */
export class VerifiedGceAttestation {
  /** The AK certificate chain, leaf first. */
  readonly certificateChain: VerifiedCertificateChain;
  /** The AK's decoded public area, certified by the chain. */
  readonly akPublic: DecodedTpmtPublic;
  /** The AK's Name. */
  readonly akName: Uint8Array;
  /** The verified quotes, one per bank, in message order. */
  readonly quotes: readonly VerifiedQuote[];
  /** The quoted PCR values of every bank, as signed. */
  readonly pcrValues: PcrValues;
  /** The event log, verified against the quoted PCRs of `eventLogBanks`; read event data from its `attestedEvents`. */
  readonly eventLog: VerifiedEventLog;
  /** The banks the event log was checked in. */
  readonly eventLogBanks: readonly HashAlg[];
  /**
   * The instance identity the VM claimed. Not attested by the TPM nor the
   * certificate: informational only.
   */
  readonly claimedInstanceInfo: GceInstanceInfo | undefined;

  /** Not for callers: use {@link verifyGceAttestation}. */
  constructor(
    token: typeof TOKEN,
    init: {
      certificateChain: VerifiedCertificateChain;
      ak: AkPublic;
      quotes: readonly VerifiedQuote[];
      pcrValues: PcrValues;
      eventLog: VerifiedEventLog;
      eventLogBanks: readonly HashAlg[];
      claimedInstanceInfo: GceInstanceInfo | undefined;
    },
  ) {
    if (token !== TOKEN) throw new TypeError("VerifiedGceAttestation is made by verifyGceAttestation");
    this.certificateChain = init.certificateChain;
    this.akPublic = init.ak.public;
    this.akName = init.ak.name;
    this.quotes = Object.freeze([...init.quotes]);
    this.pcrValues = init.pcrValues;
    this.eventLog = init.eventLog;
    this.eventLogBanks = Object.freeze([...init.eventLogBanks]);
    this.claimedInstanceInfo = init.claimedInstanceInfo;
    Object.freeze(this);
  }
}

/** Steps 3–4: every quote, each bank once, merged into one set of values. */
async function verifyQuotes(
  att: GceAttestation,
  ak: AkPublic,
  nonce: Uint8Array,
): Promise<{ quotes: VerifiedQuote[]; pcrValues: Map<HashAlg, ReadonlyMap<number, Uint8Array>> }> {
  const quotes: VerifiedQuote[] = [];
  const pcrValues = new Map<HashAlg, ReadonlyMap<number, Uint8Array>>();
  for (const q of att.quotes) {
    if (!q.pcrs) throw new VerificationError("pcr-values-missing", "a quote comes without its PCR values");
    const verified = await verifyQuote({
      akPublic: ak,
      attest: q.quote,
      signature: q.rawSig,
      expectedExtraData: nonce,
      pcrValues: new Map([[q.pcrs.hash, q.pcrs.values]]),
      requirePcrValues: true,
      expectedAkName: ak.name,
    });
    for (const [bank, values] of verified.pcrValues!) {
      // Two quotes of one bank must agree; otherwise which one the log should match is ambiguous.
      const earlier = pcrValues.get(bank);
      if (earlier) {
        for (const [pcr, value] of values) {
          const other = earlier.get(pcr);
          if (other && !bytesEqual(other, value)) {
            throw new VerificationError("pcr-values-mismatch", `two quotes disagree on ${bank} PCR ${pcr}`);
          }
        }
        pcrValues.set(bank, new Map([...earlier, ...values].sort((a, b) => a[0] - b[0])));
      } else {
        pcrValues.set(bank, values);
      }
    }
    quotes.push(verified);
  }
  return { quotes, pcrValues };
}

/**
 * Verify a GCE vTPM attestation. The steps, in order:
 *
 * 1. decode the message, the AK public area (a TPMT_PUBLIC) and the event log
 *    (`MalformedError`);
 * 2. the AK certificate is present and chains to `roots` at `at`, through the
 *    attestation's and the caller's intermediates (`cert-*` codes;
 *    `cert-untrusted-root` when there is no certificate), and certifies the
 *    AK's key (`key-mismatch`);
 * 3. every quote verifies with that AK, over `nonce`, against the PCR values
 *    sent with it (`verifyQuote`'s codes: `nonce-mismatch`,
 *    `pcr-digest-mismatch`, `signature-invalid`, ...); a quote without values
 *    fails with `pcr-values-missing`;
 * 4. quotes of the same bank agree (`pcr-values-mismatch`);
 * 5. the event log replays to the quoted values of `eventLogPcrs` in each
 *    bank of `eventLogBanks` (`eventlog-replay-mismatch`,
 *    `eventlog-bank-missing`), and each attested event's data matches its
 *    digests where the PFP defines them as its hash (`eventlog-data-mismatch`);
 *    data that cannot be checked is in `eventLog.unverifiedEvents`.
 *
 * @example
 * const verified = await verifyGceAttestation({
 *   attestation: pb, nonce: Uint8Array.of(0x90, 0x09), roots: [googleRoot],
 *   at: new Date("2022-01-01T00:00:00Z"),
 * });
 * verified.pcrValues.get("sha256")?.get(4);
 */
export async function verifyGceAttestation(options: VerifyGceAttestationOptions): Promise<VerifiedGceAttestation> {
  // 1. Decode.
  const att = decodeGceAttestation(options.attestation);
  const ak = akPublicFromDecoded(decodeTpmtPublic(att.akPub));
  const log = decodeEventLog(att.eventLog);

  // 2. The AK certificate and its chain.
  if (!att.akCert) throw new VerificationError("cert-untrusted-root", "the attestation has no AK certificate");
  const chain = await verifyCertificateChain({
    leaf: att.akCert,
    intermediates: [...att.intermediateCerts, ...(options.intermediates ?? [])],
    roots: options.roots,
    at: options.at,
    ...(options.requiredEku !== undefined ? { requiredEku: options.requiredEku } : {}),
  });
  verifyCertificateKey(chain, { jwk: publicKeyJwk(ak.public) });

  // 3–4. The quotes.
  const { quotes, pcrValues } = await verifyQuotes(att, ak, options.nonce);

  // 5. The event log against the quoted PCRs.
  const banks = options.eventLogBanks ?? [...pcrValues.keys()].filter((b) => log.banks.includes(b));
  if (banks.length === 0) {
    throw new VerificationError("eventlog-bank-missing", "the event log has none of the quoted banks");
  }
  const eventLog = verifyEventLogAgainstPcrs(log, pcrValues, {
    banks,
    pcrs: options.eventLogPcrs ?? GCE_EVENT_LOG_PCRS,
  });

  return new VerifiedGceAttestation(TOKEN, {
    certificateChain: chain,
    ak,
    quotes,
    pcrValues,
    eventLog,
    eventLogBanks: banks,
    claimedInstanceInfo: att.instanceInfo,
  });
}
