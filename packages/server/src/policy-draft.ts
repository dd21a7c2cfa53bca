/**
 * The reference values a server measured, written as a client policy
 * document (`veritee serve --write-policy FILE`). The policy schema is
 * versioned; clients validate it strictly and fail closed (docs/POLICY.md,
 * with the client in a later issue).
 */
import type { ReferenceValues } from "./serve.js";

/** Policy document, version 1. */
export interface PolicyDocumentV1 {
  readonly version: 1;
  /** A development policy accepts the swtpm local CA and zero boot PCRs; it is labelled insecure wherever used. */
  readonly development: boolean;
  readonly description: string;
  readonly trust: { readonly ekRootsPem: readonly string[] };
  readonly pcrs: { readonly sha256: Readonly<Record<string, string>> };
  readonly launch: {
    readonly pcr: number;
    readonly codeBundle: string;
    readonly configuration: string;
    readonly runtime: string;
    readonly engineBinaries: Readonly<Record<string, string>>;
    readonly models: Readonly<Record<string, string>>;
  };
  readonly freshness: { readonly maxAgeSeconds: number };
  readonly channel: { readonly modes: readonly ("attested-tls" | "sealed")[] };
}

/** A policy that accepts exactly what this server measured. */
export function policyFromReferenceValues(rv: ReferenceValues): PolicyDocumentV1 {
  return {
    version: 1,
    development: rv.development,
    description: rv.development
      ? "DEVELOPMENT POLICY — INSECURE: trusts a software TPM (swtpm) and its local CA; no measured boot."
      : "Reference values measured by veritee serve.",
    trust: { ekRootsPem: rv.ekRootsPem },
    pcrs: { sha256: rv.bootPcrs },
    launch: {
      pcr: rv.appPcr,
      codeBundle: rv.launch.codeBundle,
      configuration: rv.launch.configuration,
      runtime: rv.launch.runtime,
      engineBinaries: rv.launch.engineBinaries,
      models: rv.launch.models,
    },
    freshness: { maxAgeSeconds: 300 },
    channel: { modes: ["attested-tls", "sealed"] },
  };
}
