/**
 * Policies made from reference values: what `veritee serve --write-policy`
 * writes from the values a server measured at launch, and what `veritee
 * measure` writes from values recomputed without a TPM.
 */
import { DEVELOPMENT_POLICY_WARNING, type DigestSpec, type NamedCertificate, type Policy } from "./document.js";
import { decodePemCertificate } from "./pem.js";
import { POLICY_LIMITS, parsePolicy } from "./validate.js";

/** Reference values of one server (structurally, `@veritee/server`'s `ReferenceValues` is one). */
export interface ReferenceValues {
  /** True for a development TPM: the policy made is a development policy. */
  readonly development: boolean;
  /** The application PCR (15). */
  readonly appPcr: number;
  /** SHA-256 boot PCR reference values by decimal index, or "any". */
  readonly bootPcrs: "any" | Readonly<Record<string, DigestSpec>>;
  readonly launch: {
    readonly codeBundle: DigestSpec;
    readonly configuration: DigestSpec;
    readonly runtime: DigestSpec;
    readonly engineBinaries: "any" | Readonly<Record<string, DigestSpec>>;
    readonly models: "any" | Readonly<Record<string, DigestSpec>>;
  };
  /** PEM of the EK root CAs. */
  readonly ekRootsPem: readonly string[];
  /** PEM of EK intermediate CAs (default none: the attestation document carries the server's). */
  readonly ekIntermediatesPem?: readonly string[];
  /** The policy's description (default: a standard text; the INSECURE label for a development policy). */
  readonly description?: string;
  /** Default 300. */
  readonly maxAgeSeconds?: number;
  /** Default 32. */
  readonly minNonceBytes?: number;
  /**
   * The `platform` section as JSON (rule sets, or "none" per kind), e.g. made
   * from evidence the server produced. Default: nothing required
   * (`{"sevSnp":"none","tdx":"none","nvidiaGpu":"none","azureVtpm":"none"}`).
   */
  readonly platform?: {
    readonly sevSnp: unknown;
    readonly tdx: unknown;
    readonly nvidiaGpu: unknown;
    readonly azureVtpm: unknown;
  };
}

/** The `platform` section of a policy that requires no confidential-computing evidence. */
export const NO_PLATFORM_EVIDENCE = Object.freeze({
  sevSnp: "none",
  tdx: "none",
  nvidiaGpu: "none",
  azureVtpm: "none",
} as const);

// biome-ignore lint/suspicious/noControlCharactersInRegex: certificate text may hold anything
const CONTROL = /[\u0000-\u001f\u007f]/g;

const COMMON_NAME = "2.5.4.3";

/** Name certificates by their subject's common name (else the whole subject), unique and printable; "EK root N" for an empty subject. */
function named(pems: readonly string[], fallback: string): NamedCertificate[] {
  const out: NamedCertificate[] = [];
  pems.forEach((pem, i) => {
    let base: string;
    try {
      const subject = decodePemCertificate(pem).certificate.subject;
      const cn = subject.attributes.find((a) => a.oid === COMMON_NAME)?.value;
      base = (cn || subject.text).replace(CONTROL, "?");
    } catch {
      base = ""; // parsePolicy reports the bad PEM with its path
    }
    base = (base || `${fallback} ${i + 1}`).slice(0, POLICY_LIMITS.maxCertificateName - 8);
    let name = base;
    for (let n = 2; out.some((c) => c.name === name); n++) name = `${base} (${n})`;
    out.push({ name, pem });
  });
  return out;
}

/**
 * A policy that accepts exactly these reference values: trusted EK roots
 * named by their subjects, the AK proven by credential activation, attestations
 * at most 5 minutes old answering 32-byte nonces, both channel modes. A
 * development server's values make a development policy, labelled INSECURE.
 *
 * @throws PolicyError `invalid-policy` when the values do not make a valid
 *   policy (a bad PEM, a zero boot PCR in a production policy, ...).
 * @example
 * const server = await startVeriteeServer(options);
 * writeFileSync("policy.json", JSON.stringify(policyFromReferenceValues(server.referenceValues), null, 2));
 */
export function policyFromReferenceValues(rv: ReferenceValues): Policy {
  return parsePolicy({
    version: 1,
    development: rv.development,
    description:
      rv.description ?? (rv.development ? DEVELOPMENT_POLICY_WARNING : "Reference values of a Veritee server release."),
    trust: {
      ekRoots: named(rv.ekRootsPem, "EK root"),
      ekIntermediates: named(rv.ekIntermediatesPem ?? [], "EK intermediate"),
      akProof: "credential-activation",
    },
    boot: { sha256: rv.bootPcrs },
    launch: {
      pcr: rv.appPcr,
      codeBundle: rv.launch.codeBundle,
      configuration: rv.launch.configuration,
      runtime: rv.launch.runtime,
      engineBinaries: rv.launch.engineBinaries,
      models: rv.launch.models,
    },
    freshness: { maxAgeSeconds: rv.maxAgeSeconds ?? 300, minNonceBytes: rv.minNonceBytes ?? 32 },
    channel: { modes: ["attested-tls", "sealed"] },
    platform: rv.platform ?? NO_PLATFORM_EVIDENCE,
  });
}
