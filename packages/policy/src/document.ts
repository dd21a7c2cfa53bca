/**
 * The policy document, schema version 1: what a client accepts from an
 * attested server. Its JSON form is specified in docs/POLICY.md (and, for
 * editors, docs/policy.schema.json); {@link parsePolicy} validates it.
 *
 * The schema fails closed: every member is required, unknown members are
 * errors, and a check is skipped only where the policy says `"any"`.
 */
import type { AllowInsecureRule } from "./insecure.js";
import type { AzureVtpmRules } from "./tee/azure-vtpm.js";
import type { NvidiaRules } from "./tee/nvidia.js";
import type { SgxRules } from "./tee/sgx.js";
import type { SnpRules } from "./tee/snp.js";
import type { TdxRules } from "./tee/tdx.js";

/** The schema version this package reads and writes. */
export const POLICY_VERSION = 1;

/** The literal that skips one check, written out. */
export const ANY = "any";

/**
 * A reference value for one SHA-256 measurement: a lower-case hex digest
 * (64 digits), a non-empty list of allowed digests, or `"any"`.
 */
export type DigestSpec = string | readonly string[];

/** A named PEM certificate (an EK root or intermediate CA). */
export interface NamedCertificate {
  /** A label for reports (1–128 characters, no control characters, unique in its list). */
  readonly name: string;
  /** One X.509 certificate in PEM (`-----BEGIN CERTIFICATE-----`). */
  readonly pem: string;
}

/** How the AK must be shown to live in the certified TPM. */
export type AkProof = "credential-activation" | "any";

/** Channel modes a client may use with the attested keys. */
export type ChannelMode = "attested-tls" | "sealed";

/** Every channel mode, in the order documents list them. */
export const CHANNEL_MODES: readonly ChannelMode[] = Object.freeze(["attested-tls", "sealed"]);

/** Trust anchors and the AK proof. */
export interface PolicyTrust {
  /** EK root CAs (trust anchors), 1–32. */
  readonly ekRoots: readonly NamedCertificate[];
  /** Intermediate CAs for building the EK path (hints, not anchors), 0–32. */
  readonly ekIntermediates: readonly NamedCertificate[];
  /** `"credential-activation"`: the AK must be proven resident in the certified TPM. */
  readonly akProof: AkProof;
}

/** Boot PCR reference values. */
export interface PolicyBoot {
  /** SHA-256 bank: `"any"`, or a reference value for each boot PCR by decimal index ("0".."23"). */
  readonly sha256: "any" | Readonly<Record<string, DigestSpec>>;
}

/** Launch reference values (the launch log replayed into the application PCR). */
export interface PolicyLaunch {
  /** The application PCR (8–15; Veritee uses 15). */
  readonly pcr: number;
  readonly codeBundle: DigestSpec;
  readonly configuration: DigestSpec;
  readonly runtime: DigestSpec;
  /** Allowed native engine files by stable name, or `"any"`: every measured one must be listed. */
  readonly engineBinaries: "any" | Readonly<Record<string, DigestSpec>>;
  /** Models by id, or `"any"`: every measured one must be listed, and every listed one measured. */
  readonly models: "any" | Readonly<Record<string, DigestSpec>>;
  /**
   * Access control the server must enforce, checked against its measured
   * configuration even when `configuration` is `"any"` (`access.ts`). The
   * one optional member of `launch`: absent demands nothing beyond what
   * `configuration` pins.
   */
  readonly access?: PolicyAccess;
}

/** Access control a policy demands (`true`) or leaves open (`"any"`); both members are required. */
export interface PolicyAccess {
  /** `true`: the server refuses plaintext requests (`veritee serve --require-sealed`). */
  readonly requireSealed: true | typeof ANY;
  /** `true`: the server requires an API key (`--api-key`, `--api-key-file`, `$VERITEE_API_KEY`). */
  readonly requireApiKey: true | typeof ANY;
}

/** Freshness limits. */
export interface PolicyFreshness {
  /** How long after its verification an attestation may be relied on (1–86400 s). */
  readonly maxAgeSeconds: number;
  /** The shortest nonce an attestation may answer (16–64 bytes). */
  readonly minNonceBytes: number;
}

/**
 * Confidential-computing evidence the policy requires (docs/POLICY.md
 * "platform"). A rule set makes that evidence required and evaluated (for
 * `nvidiaGpu`: at least one GPU, and every GPU passes); `"none"` makes it
 * optional — evidence of that kind is still verified when present and shown
 * in the appraisal, but no rule applies to it.
 */
export interface PolicyPlatform {
  readonly sevSnp: SnpRules | typeof NONE;
  readonly tdx: TdxRules | typeof NONE;
  readonly nvidiaGpu: NvidiaRules | typeof NONE;
  /**
   * An Azure confidential VM's vTPM: the document's `azure-vtpm` entry (HCL
   * report) must be present, name the AK that signed the quote (the
   * verifier's check), and pass these rules (`tee/azure-vtpm.ts`).
   */
  readonly azureVtpm: AzureVtpmRules | typeof NONE;
  /**
   * An Intel SGX enclave (`tee/sgx.ts`); the one optional member (absent
   * means "none", and stays absent here). No attestation document carries
   * SGX evidence yet, so a rule set makes every attestation fail
   * `platform-evidence-missing`.
   */
  readonly sgx?: SgxRules | typeof NONE;
}

/** The literal that leaves a kind of platform evidence unrequired. */
export const NONE = "none";

/** Channel modes the client may use. */
export interface PolicyChannel {
  /** 1–2 distinct modes. */
  readonly modes: readonly ChannelMode[];
}

/** A policy document, schema version 1 (the JSON shape). */
export interface PolicyDocument {
  readonly version: 1;
  /**
   * A development policy may trust the swtpm local CA and zero boot PCRs, and
   * accepts a development server; everything it appraises is labelled INSECURE.
   */
  readonly development: boolean;
  /** Free text for people (at most 1024 characters, no control characters other than newline). */
  readonly description: string;
  readonly trust: PolicyTrust;
  readonly boot: PolicyBoot;
  readonly launch: PolicyLaunch;
  readonly freshness: PolicyFreshness;
  readonly channel: PolicyChannel;
  readonly platform: PolicyPlatform;
  /**
   * Optional: rules a production policy skips knowingly
   * (`"akProof"` for `trust.akProof: "any"`, see `ALLOW_INSECURE_RULES`).
   * Absent allows nothing. Every appraisal still lists each skip as insecure.
   */
  readonly allowInsecure?: readonly AllowInsecureRule[];
}

declare const VALIDATED: unique symbol;

/**
 * A policy document that {@link parsePolicy} validated: a deep-frozen copy,
 * still plain JSON (write it with `JSON.stringify`). Only the validator
 * makes one; {@link evaluate} re-validates anything else it is given.
 */
export type Policy = PolicyDocument & { readonly [VALIDATED]: true };

/** The label every report made under a development policy carries. */
export const DEVELOPMENT_POLICY_WARNING =
  "DEVELOPMENT POLICY — INSECURE: a software TPM (swtpm) and its local CA may be trusted, and no measured boot is required";
