/**
 * Verification of an NVIDIA Hopper GPU attestation report, in order:
 *
 * 1. the request asked for every measurement block, signed, and the
 *    response answers from the same certificate slot (DSP0274 1.1 §10.11);
 * 2. the device certificate's ECDSA P-384 key signed SHA-384 of the request
 *    and the response up to the signature (SPDM 1.1 signs the plain
 *    transcript L1/L2, DSP0274 1.1 §10.11.2.2; 1.2's combined_spdm_prefix
 *    does not apply and such reports are refused by the decoder);
 * 3. the request's nonce is the one the verifier expects: a raw nonce, or
 *    the Veritee session's {@link gpuNonceBinding};
 * 4. every measurement index appears once;
 * 5. the device certificate chains to NVIDIA's device identity root (or the
 *    caller's roots) at the pinned time `at` (RFC 5280 §6.1).
 *
 * The GPU's chip ({@link VerifiedGpuReport.chip}, e.g. "GH100") is read from
 * the proven device certificate, whose subject NVIDIA's CA signed; policy
 * compares it with the product a RIM is for.
 *
 * Only then is a {@link VerifiedGpuReport} made; policy reads nothing else.
 */
import { bytesEqual, hash, importPublicSpki, utf8, verifySignature } from "@veritee/core";
import { chainValidAt, DEFAULT_VERIFIED_CACHE_SIZE, maybeCached, VerifiedCache } from "../collateral/verified-cache.js";
import { VerificationError } from "../errors.js";
import { NONCE_LENGTH } from "../launch/binding.js";
import { type DecodedCertificate, decodeCertificate } from "../x509/certificate.js";
import { type VerifiedCertificateChain, verifyCertificateChain } from "../x509/chain.js";
import { decodePemChain } from "./cert-chain.js";
import {
  decodeGpuReport,
  type GpuOpaqueData,
  type GpuReport,
  SPDM_ALL_MEASUREMENTS,
  type SpdmMeasurementBlock,
} from "./decode.js";
import { NVIDIA_DEVICE_IDENTITY_ROOT } from "./roots.js";

/** The domain-separation label of {@link gpuNonceBinding}. */
export const GPU_NONCE_LABEL = "veritee-gpu-nonce-v1";

/** The Veritee session a GPU report is bound to: the client's nonce and the server's key-set digest. */
export interface GpuSession {
  /** The client's fresh nonce, 16..64 bytes (the same nonce the CPU evidence answers). */
  readonly clientNonce: Uint8Array;
  /** SHA-256 digest of the server's key set (`keySetDigest`), 32 bytes. */
  readonly keySetDigest: Uint8Array;
}

/**
 * The SPDM nonce a Veritee server asks its GPU to sign for a session:
 *
 *     SHA-256("veritee-gpu-nonce-v1" || clientNonce || keySetDigest)
 *
 * The CPU evidence binds SHA-256("veritee-attestation-v1" || clientNonce ||
 * keySetDigest) (`attestationExtraData`): both derive from the same client
 * nonce and key set under different labels, so a GPU report verified with
 * this nonce belongs to the same session as the CPU evidence, and neither
 * value can be replayed as the other. The label and the digest have fixed
 * lengths, so the concatenation splits one way only. The result is exactly
 * the 32 bytes an SPDM nonce holds (DSP0274 1.1 Table 45).
 *
 * @throws RangeError for a nonce outside 16..64 bytes or a digest that is not 32 bytes.
 * @example
 * const nonce = gpuNonceBinding({ clientNonce, keySetDigest: keySetDigest(keySet) });
 */
export function gpuNonceBinding(session: GpuSession): Uint8Array {
  const { clientNonce, keySetDigest } = session;
  if (clientNonce.length < NONCE_LENGTH.min || clientNonce.length > NONCE_LENGTH.max) {
    throw new RangeError(`the client nonce must be ${NONCE_LENGTH.min}..${NONCE_LENGTH.max} bytes`);
  }
  if (keySetDigest.length !== 32) throw new RangeError("the key-set digest is 32 bytes");
  return hash("sha256", utf8(GPU_NONCE_LABEL), clientNonce, keySetDigest);
}

/** Inputs of {@link verifyGpuReport}. Exactly one of `expectedNonce` and `session` is required. */
export interface VerifyGpuReportOptions {
  /** The report: bytes, hex text, or an already decoded report. */
  readonly report: Uint8Array | string | GpuReport;
  /** The device certificate chain: PEM text, or DER certificates, device certificate first. */
  readonly certChain: string | readonly Uint8Array[];
  /** The raw 32-byte nonce the verifier sent. */
  readonly expectedNonce?: Uint8Array;
  /** The Veritee session the nonce must bind ({@link gpuNonceBinding}). */
  readonly session?: GpuSession;
  /** The time to validate the chain at (never an implicit "now"). */
  readonly at: Date;
  /** Trust anchors (DER); default {@link NVIDIA_DEVICE_IDENTITY_ROOT}. */
  readonly roots?: readonly Uint8Array[];
}

const CONSTRUCT: unique symbol = Symbol("VerifiedGpuReport");

/**
 * A GPU attestation report that {@link verifyGpuReport} proved: signed by a
 * device key that chains to the trusted root, answering the expected nonce,
 * with unique measurement indices. Only the verifier constructs it.
 */
export class VerifiedGpuReport {
  // A private brand: `is` tells a real instance from a look-alike object.
  readonly #brand = true;
  /** The measurement blocks by SPDM index (1..0xFE), in report order. */
  readonly measurements: ReadonlyMap<number, SpdmMeasurementBlock>;
  /** The NVIDIA opaque fields (driver and VBIOS versions, ...). */
  readonly opaque: GpuOpaqueData;
  /** The driver version the GPU reported, if any. */
  readonly driverVersion: string | undefined;
  /** The VBIOS version the GPU reported, if any. */
  readonly vbiosVersion: string | undefined;
  /** The 32-byte nonce the verifier sent and the GPU signed. */
  readonly nonce: Uint8Array;
  /** The session the nonce binds, when verified with `session`; `undefined` for a raw nonce. */
  readonly session: GpuSession | undefined;
  /**
   * The GPU chip the device certificate names: the first word of its subject
   * CN when that is an NVIDIA chip name ("GH100" from "GH100 A01 GSP FMC LF");
   * undefined otherwise. Proven: the certificate chains to the trusted root.
   */
  readonly chip: string | undefined;
  /** The proven certificate chain (device certificate first). */
  readonly chain: VerifiedCertificateChain;
  /** The time the report was verified at. */
  readonly verifiedAt: Date;

  /** @internal Use {@link verifyGpuReport}. */
  constructor(
    token: typeof CONSTRUCT,
    report: GpuReport,
    chain: VerifiedCertificateChain,
    session: GpuSession | undefined,
    at: Date,
  ) {
    if (token !== CONSTRUCT) throw new TypeError("VerifiedGpuReport is created by verifyGpuReport only");
    const map = new Map<number, SpdmMeasurementBlock>();
    for (const block of report.response.blocks) map.set(block.index, block);
    this.measurements = map;
    this.opaque = report.response.opaque;
    this.driverVersion = report.response.opaque.driverVersion;
    this.vbiosVersion = report.response.opaque.vbiosVersion;
    this.nonce = report.request.nonce.slice();
    this.session =
      session === undefined
        ? undefined
        : Object.freeze({ clientNonce: session.clientNonce.slice(), keySetDigest: session.keySetDigest.slice() });
    this.chain = chain;
    this.chip = gpuChipOf(chain.path[0]!);
    this.verifiedAt = new Date(at.getTime());
    Object.freeze(this);
  }

  /** Whether `value` was made by {@link verifyGpuReport} (not merely shaped like it). */
  static is(value: unknown): value is VerifiedGpuReport {
    return typeof value === "object" && value !== null && #brand in value && value.#brand;
  }
}

/** An NVIDIA GPU chip name: "G", the architecture letter(s), the die number (GA100, GH100, GB202). */
const GPU_CHIP_NAME = /^G[A-Z]{1,2}[0-9]{3}$/;

/**
 * The chip a GPU device certificate names. NVIDIA's device certificates carry
 * the chip, revision and firmware stage in the subject CN ("GH100 A01 GSP FMC
 * LF"), as do the chain's other certificates ("GH100 A01 GSP BROM", "NVIDIA
 * GH100 Identity").
 */
function gpuChipOf(device: DecodedCertificate): string | undefined {
  const cns = device.subject.attributes.filter((a) => a.oid === "2.5.4.3");
  if (cns.length !== 1) return undefined;
  const first = cns[0]!.value.split(" ", 1)[0]!;
  return GPU_CHIP_NAME.test(first) ? first : undefined;
}

function checkRequest(report: GpuReport): void {
  const { request, response } = report;
  if (request.measurementOperation !== SPDM_ALL_MEASUREMENTS) {
    throw new VerificationError("nvidia-request-mismatch", "the request did not ask for every measurement block");
  }
  if (response.slotId !== request.slotId) {
    throw new VerificationError("nvidia-request-mismatch", "the response answers from another certificate slot");
  }
  // DSP0274 1.1 Table 47: Param1 is reserved unless the request asked for the count.
  if (response.param1 !== 0) throw new VerificationError("nvidia-request-mismatch", "response Param1 is reserved");
  if (response.blocks.length === 0) throw new VerificationError("nvidia-request-mismatch", "no measurement blocks");
}

/**
 * Verify a GPU attestation report (see the module comment for the steps).
 *
 * @throws MalformedError for a report or certificate that does not decode;
 *   VerificationError `nvidia-request-mismatch`, `nvidia-device-key`,
 *   `signature-invalid`, `nvidia-nonce-mismatch`,
 *   `nvidia-duplicate-measurement`, `cert-*` (chain).
 * @example
 * const verified = await verifyGpuReport({
 *   report: reportHex, certChain: chainPem, expectedNonce: nonce, at: new Date("2024-06-01T00:00:00Z"),
 * });
 * verified.driverVersion; // "550.90.07"
 */
export function verifyGpuReport(options: VerifyGpuReportOptions): Promise<VerifiedGpuReport> {
  return gpuWith(options, options.roots ?? [NVIDIA_DEVICE_IDENTITY_ROOT], undefined);
}

async function gpuWith(
  options: Omit<VerifyGpuReportOptions, "roots">,
  roots: readonly Uint8Array[],
  cache: VerifiedCache | undefined,
): Promise<VerifiedGpuReport> {
  const { at } = options;
  if ((options.expectedNonce === undefined) === (options.session === undefined)) {
    throw new TypeError("give exactly one of expectedNonce and session");
  }
  const expected = options.session ? gpuNonceBinding(options.session) : options.expectedNonce!;
  const report =
    typeof options.report === "string" || options.report instanceof Uint8Array
      ? decodeGpuReport(options.report)
      : options.report;
  const certs = typeof options.certChain === "string" ? decodePemChain(options.certChain) : options.certChain;
  if (certs.length === 0) throw new VerificationError("cert-untrusted-root", "the certificate chain is empty");
  checkRequest(report);

  // The signature is checked with the device certificate's key before the
  // chain is validated: a forged or damaged report then costs one signature
  // check, not five. Nothing is returned before the chain is proven too.
  const leaf = decodeCertificate(certs[0]!);
  const key = leaf.publicKey;
  if (key.kind !== "ec" || key.curve !== "P-384") {
    throw new VerificationError("nvidia-device-key", "the device certificate does not hold an ECDSA P-384 key");
  }
  let ok: boolean;
  try {
    ok = await verifySignature(
      { kind: "ecdsa", hash: "sha384" },
      importPublicSpki(leaf.spki),
      report.signedBytes,
      report.response.signature,
    );
  } catch (cause) {
    throw new VerificationError("nvidia-device-key", "the device key is unusable", { cause });
  }
  if (!ok) throw new VerificationError("signature-invalid", "the GPU report's signature does not verify");

  if (!bytesEqual(report.request.nonce, expected)) {
    throw new VerificationError("nvidia-nonce-mismatch", "the report answers another nonce");
  }
  const seen = new Set<number>();
  for (const block of report.response.blocks) {
    if (seen.has(block.index)) {
      throw new VerificationError("nvidia-duplicate-measurement", `measurement index ${block.index} appears twice`);
    }
    seen.add(block.index);
  }

  // With a cache: the chain of these exact certificates is reused while every one is valid at `at`.
  const chain = await maybeCached(
    cache,
    `nvidia-chain:${roots.length}`,
    [...roots, ...certs],
    at,
    () => verifyCertificateChain({ leaf: certs[0]!, intermediates: certs.slice(1), roots, at }),
    chainValidAt,
  );
  return new VerifiedGpuReport(CONSTRUCT, report, chain, options.session, at);
}

/** Options of {@link createGpuVerifier}. */
export interface GpuVerifierOptions {
  /** Trust anchors (DER); default {@link NVIDIA_DEVICE_IDENTITY_ROOT}. */
  readonly roots?: readonly Uint8Array[];
  /** The most verified device chains kept; default 64. */
  readonly cacheSize?: number;
}

/** A GPU report verifier with a cache of verified device chains: see {@link createGpuVerifier}. */
export interface GpuVerifier {
  /** Like {@link verifyGpuReport} (with the verifier's roots). Same checks, same errors. */
  verify(options: Omit<VerifyGpuReportOptions, "roots">): Promise<VerifiedGpuReport>;
  /** Device chains cached now. */
  readonly size: number;
  /** Forget every cached chain. */
  clear(): void;
}

/**
 * A GPU report verifier for many reports: the device chain (five ECDSA
 * P-384 certificates on Hopper) is verified once per distinct chain and
 * reused while every certificate is valid at the new `at` (a bounded LRU
 * keyed by SHA-256 of the certificates and roots). Every call still checks
 * the request, the report's signature with the device key, the nonce and
 * the measurement indices. `chain.verifiedAt` is when the chain was first
 * verified.
 *
 * @example
 * const gpus = createGpuVerifier();
 * const verified = await gpus.verify({ report, certChain, session, at: new Date() });
 */
export function createGpuVerifier(options: GpuVerifierOptions = {}): GpuVerifier {
  const roots = Object.freeze((options.roots ?? [NVIDIA_DEVICE_IDENTITY_ROOT]).map((r) => Uint8Array.from(r)));
  const cache = new VerifiedCache(options.cacheSize ?? DEFAULT_VERIFIED_CACHE_SIZE);
  return Object.freeze({
    verify: (input: Omit<VerifyGpuReportOptions, "roots">) => gpuWith(input, roots, cache),
    get size() {
      return cache.size;
    },
    clear: () => cache.clear(),
  });
}
