/**
 * Policy evaluation: verified evidence against a validated policy. The
 * evidence package has already proven what the server measured (EK chain,
 * quote, nonce and key-set binding, launch-log replay); this module decides
 * whether those measurements are the ones the policy allows. It does no
 * cryptography and accepts nothing but a `VerifiedAttestation`, which only
 * the verifier can construct.
 *
 * Every claim is evaluated and recorded, passed or failed, so the appraisal
 * shows the whole picture; the first failure (in the order below) decides
 * the error's code and message.
 */
import { bytesEqual, toHex } from "@veritee/core";
import { gpuReportsOf, platformReportData, VerifiedAttestation, type VerifiedGpuRim } from "@veritee/evidence";
import { accessClaims } from "./access.js";
import type { Appraisal } from "./appraisal.js";
import { ClaimList } from "./claims.js";
import { developmentIndicators } from "./development.js";
import { ANY, DEVELOPMENT_POLICY_WARNING, NONE, type Policy } from "./document.js";
import { PolicyError } from "./errors.js";
import { insecureReasons, insecureWarning } from "./insecure.js";
import { launchEnvironmentOf } from "./launch-environment.js";
import { azureVtpmClaims } from "./tee/azure-vtpm.js";
import { nvidiaClaims } from "./tee/nvidia.js";
import { snpClaims } from "./tee/snp.js";
import { tdxClaims } from "./tee/tdx.js";
import { parsePolicy, trustMaterial } from "./validate.js";

/** Inputs of {@link evaluate} besides the evidence and the policy. */
export interface EvaluateOptions {
  /** The time to evaluate freshness at (never an implicit "now"). */
  readonly now: Date;
  /** Reference values for GPU rules with `measurements: "from-rim"` (NVIDIA driver and VBIOS RIMs). */
  readonly nvidiaRims?: readonly VerifiedGpuRim[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function member(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** Certificate text for a report: control characters (a terminal escape, say) shown as "?". */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to replace them
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?").slice(0, 256);
}

/**
 * Evaluate a verified attestation against a policy. Claims, in order, each
 * with the code it fails with:
 *
 * 1. `development`: a development server (swtpm, its local CA, zero firmware
 *    PCRs, or a `swtpm-dev` configuration) needs a development policy
 *    (`development-policy-required`);
 * 2. `trust.ekRoots`: the EK chain's anchor is one of the policy's roots
 *    (`untrusted-root`);
 * 3. `trust.akProof`: the AK is proven resident by credential activation,
 *    when required (`ak-residency-unproven`); under `"any"`, a verified
 *    Azure vTPM entry that `platform.azureVtpm` requires is reported as the
 *    AK's proof (the HCL report names the AK: docs/ATTESTATION.md);
 * 4. `freshness.maxAgeSeconds`: the attestation was verified at most that
 *    long before `now`, and not after it (`attestation-stale`);
 *    `freshness.minNonceBytes`: the answered nonce is long enough
 *    (`nonce-too-short`);
 * 5. `boot.sha256`: each quoted boot PCR is listed and allowed
 *    (`measurement-unexpected`, `measurement-mismatch`), and each listed PCR
 *    was quoted (`measurement-missing`);
 * 6. `launch.pcr`: the launch log was verified against that PCR;
 *    `launch.codeBundle`, `launch.configuration`, `launch.runtime`: each
 *    measured digest is allowed (`measurement-mismatch`); for a production
 *    policy, `launch.configuration.launchEnvironment`: the server recorded
 *    no Node.js flags and no loader variables (`loader-environment`);
 *    `launch.access`, when present: each access control it demands (`true`)
 *    is recorded as on in the configuration (`measurement-mismatch`);
 * 7. `launch.engineBinaries`: every measured engine file is listed and
 *    allowed (`measurement-unexpected`, `measurement-mismatch`); listed files
 *    need not all be loaded, as a prebuilt engine ships CPU variants and
 *    loads one;
 * 8. `launch.models`: every measured model is listed and allowed, and every
 *    listed model was measured (`measurement-missing`);
 * 9. `platform.sevSnp`, `platform.tdx`, `platform.nvidiaGpu`,
 *    `platform.azureVtpm`, `platform.sgx` (never sent yet): evidence a rule
 *    set requires is present (`platform-evidence-missing`; for GPUs at least
 *    one) and passes every rule of its section, with claim paths like
 *    `platform.sevSnp.measurement` and `platform.nvidiaGpu[0].driverVersion`
 *    (the sections' own codes). The CPU report data is compared with the
 *    binding of this nonce, key set and GPU reports. Evidence of a kind the
 *    policy leaves at `"none"` was still verified and is reported as a
 *    passing claim; a kind neither required nor present makes no claim.
 *
 * The appraisal is marked `insecure`, with each reason in
 * `insecureReasons`, under a development policy (with
 * {@link DEVELOPMENT_POLICY_WARNING}, whatever the server) and under any
 * policy that skips a security-relevant check with `"any"` (`insecureReasons`
 * in insecure.ts: the AK proof, boot PCRs, code, configuration, runtime,
 * engine files, models, platform rules), pass or fail.
 *
 * @returns the appraisal, when every claim passed.
 * @throws PolicyError with the first failing claim's code; its `appraisal`
 *   lists every claim and its message names the failing measurement with
 *   expected and actual values. `invalid-policy` for a policy that does not
 *   validate. TypeError for evidence that is not a `VerifiedAttestation`.
 * @example
 * const verified = await verifyAttestationDocument(doc, { nonce, at: new Date(), ...verificationInputs(policy) });
 * const appraisal = evaluate(verified, policy, { now: new Date() });
 */
export function evaluate(verified: VerifiedAttestation, policy: Policy, options: EvaluateOptions): Appraisal {
  // Policy accepts only what the verifier made: never decoded-but-unverified evidence.
  if (!VerifiedAttestation.is(verified)) {
    throw new TypeError("evaluate takes a VerifiedAttestation (from verifyAttestationDocument)");
  }
  const p = parsePolicy(policy);
  const now = options.now;
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new RangeError("options.now must be a valid Date");
  const claims = new ClaimList();
  const launch = verified.launch;

  // 1. Development flag consistency.
  const indicators = developmentIndicators(verified);
  const developmentServer = indicators.length > 0;
  claims.add(
    "development",
    "platform",
    p.development ? "a production or development TPM (development policy — INSECURE)" : "a production TPM",
    developmentServer ? `a development TPM: ${indicators.join("; ")}` : "no sign of a development TPM",
    p.development || !developmentServer,
    "development-policy-required",
  );

  // 2. The EK chain's trust anchor (the chain itself was verified).
  const roots = trustMaterial(p).roots;
  const anchor = verified.ekChain.anchor;
  const root = roots.find((r) => bytesEqual(r.der, anchor.der));
  claims.add(
    "trust.ekRoots",
    "EK root CA",
    roots.length === 1 ? roots[0]!.name : `one of ${roots.map((r) => r.name).join(", ")}`,
    root === undefined
      ? `a root the policy does not name (${printable(anchor.subject.text) || "empty subject"})`
      : root.name,
    root !== undefined,
    "untrusted-root",
  );

  // 3. The AK lives in the certified TPM.
  const akProof = p.trust.akProof;
  claims.add(
    "trust.akProof",
    "AK residency",
    akProof,
    verified.akResidency === "unproven" && verified.platform.azureVtpm !== undefined && p.platform.azureVtpm !== NONE
      ? "unproven by credential activation; the Azure HCL report names this AK"
      : verified.akResidency,
    akProof === ANY || verified.akResidency === akProof,
    "ak-residency-unproven",
  );

  // 4. Freshness: the verification time is the attestation's time (its nonce was fresh then).
  const ageMs = now.getTime() - verified.ekChain.verifiedAt.getTime();
  const maxAge = p.freshness.maxAgeSeconds;
  claims.add(
    "freshness.maxAgeSeconds",
    "attestation age",
    `verified at most ${maxAge} s ago`,
    ageMs < 0
      ? `verified ${(-ageMs / 1000).toFixed(3)} s in the future`
      : `verified ${(ageMs / 1000).toFixed(3)} s ago`,
    ageMs >= 0 && ageMs <= maxAge * 1000,
    "attestation-stale",
  );
  const minNonce = p.freshness.minNonceBytes;
  claims.add(
    "freshness.minNonceBytes",
    "nonce size",
    `at least ${minNonce} bytes`,
    `${verified.nonce.length} bytes`,
    verified.nonce.length >= minNonce,
    "nonce-too-short",
  );

  // 5. Boot PCRs.
  const boot = p.boot.sha256;
  const quoted = [...verified.bootPcrs].sort((a, b) => a[0] - b[0]).map(([i, v]) => [String(i), toHex(v)] as const);
  if (boot === ANY)
    for (const [index, actual] of quoted) claims.digest(member("boot.sha256", index), `boot PCR ${index}`, ANY, actual);
  else {
    claims.allowList({
      listed: new Map(Object.entries(boot)),
      reported: quoted,
      member: (index) => member("boot.sha256", index),
      name: (index) => `boot PCR ${index}`,
      unlisted: "nothing (the policy does not list this PCR)",
      absent: "not quoted",
    });
  }

  // 6. The launch: application PCR, code bundle, configuration, runtime.
  claims.add(
    "launch.pcr",
    "application PCR",
    `PCR ${p.launch.pcr}`,
    `PCR ${verified.appPcr}`,
    verified.appPcr === p.launch.pcr,
    "measurement-mismatch",
  );
  claims.digest("launch.codeBundle", "code bundle", p.launch.codeBundle, launch.codeBundle.digest);
  claims.digest("launch.configuration", "configuration", p.launch.configuration, launch.configuration.digest);
  if (!p.development) {
    // Flags and loader variables run other code under the same measured files: production allows none, even under "any".
    const environment = launchEnvironmentOf(launch.configuration.config);
    const what = "start-up flags and loader variables";
    const claim = ["launch.configuration.launchEnvironment", what, "none", environment.description] as const;
    claims.add(...claim, environment.empty, "loader-environment");
  }
  // Demanded access control holds whatever `configuration` allows (a digest pins it too; "any" does not).
  if (p.launch.access !== undefined) accessClaims(claims, p.launch.access, launch.configuration.config);
  claims.digest("launch.runtime", `runtime (node ${launch.runtime.version})`, p.launch.runtime, launch.runtime.digest);

  // 7. Engine binaries: an allow-list.
  const binaries = p.launch.engineBinaries;
  const loaded = launch.engineBinaries.map((b) => [b.name, b.digest] as const);
  claims.allowList({
    // "any" lists every loaded file as accepting any digest.
    listed: new Map(binaries === ANY ? loaded.map(([name]) => [name, ANY]) : Object.entries(binaries)),
    reported: loaded,
    member: (name) => member("launch.engineBinaries", name),
    name: (name) => `engine binary ${name}`,
    unlisted: "nothing (the policy does not list this file)",
  });

  // 8. Models: listed both ways.
  const models = p.launch.models;
  const measuredModels = launch.models.map((m) => [m.id, m.digest] as const);
  const modelList = {
    reported: measuredModels,
    member: (id: string) => member("launch.models", id),
    name: (id: string) => `model ${id}`,
    unlisted: "nothing (the policy does not list this model)",
  };
  // "any" lists every measured model as accepting any digest; otherwise each listed model must be measured.
  if (models === ANY) claims.allowList({ ...modelList, listed: new Map(measuredModels.map(([id]) => [id, ANY])) });
  else claims.allowList({ ...modelList, listed: new Map(Object.entries(models)), absent: "not measured" });

  // 9. Platform evidence.
  platformClaims(claims, verified, p, now, options.nvidiaRims);

  const recorded = claims.claims;
  const failed = recorded.filter((c) => !c.ok);
  const reasons = insecureReasons(p);
  const appraisal: Appraisal = Object.freeze({
    verdict: failed.length === 0 ? "pass" : "fail",
    insecure: reasons.length > 0,
    insecureReasons: reasons,
    developmentServer,
    warning: p.development ? DEVELOPMENT_POLICY_WARNING : reasons.length > 0 ? insecureWarning(reasons) : null,
    claims: recorded,
    evaluatedAt: now.toISOString(),
  });
  const first = failed[0];
  if (first !== undefined) {
    const more = failed.length > 1 ? ` (${failed.length - 1} more claim${failed.length > 2 ? "s" : ""} failed)` : "";
    throw new PolicyError(first.code!, `${first.name}: expected ${first.expected}, actual ${first.actual}${more}`, {
      appraisal,
      claim: first,
    });
  }
  return appraisal;
}

const PLATFORM_NAMES = {
  sevSnp: "SEV-SNP evidence",
  tdx: "TDX evidence",
  nvidiaGpu: "NVIDIA GPU evidence",
  azureVtpm: "Azure vTPM evidence (HCL report)",
  sgx: "SGX evidence",
} as const;

/** Step 9 of {@link evaluate}: presence of required platform evidence, then each section's claims. */
function platformClaims(
  claims: ClaimList,
  verified: VerifiedAttestation,
  p: Policy,
  now: Date,
  rims: readonly VerifiedGpuRim[] | undefined,
): void {
  const { sevSnp, tdx, gpus, azureVtpm } = verified.platform;
  const rules = p.platform;
  // What the CPU report data must be; the verifier already required it, the claims record it.
  const expectedReportData = platformReportData({
    nonce: verified.nonce,
    keySetDigest: verified.keySetDigest,
    gpuReports: gpuReportsOf(verified.document.platform),
  });
  const presence = (key: keyof typeof PLATFORM_NAMES, present: boolean, actual: string) => {
    const required = rules[key] !== undefined && rules[key] !== NONE;
    // Neither required nor sent: nothing to say (a TPM-only server under a TPM-only policy).
    if (!required && !present) return;
    claims.add(
      `platform.${key}`,
      PLATFORM_NAMES[key],
      required ? (key === "nvidiaGpu" ? "at least one GPU, each passing the rules" : "required") : "not required",
      present ? actual : "absent",
      present || !required,
      "platform-evidence-missing",
    );
  };

  presence(
    "sevSnp",
    sevSnp !== undefined,
    `verified (${sevSnp?.product ?? ""}, ${sevSnp?.signer.toUpperCase() ?? ""}-signed)`,
  );
  if (sevSnp !== undefined && rules.sevSnp !== NONE) {
    claims.push(...snpClaims(rules.sevSnp, sevSnp, { expectedReportData, path: "platform.sevSnp", now }));
  }
  presence("tdx", tdx !== undefined, `verified (TCB ${tdx?.tcb.platform ?? ""})`);
  if (tdx !== undefined && rules.tdx !== NONE) {
    claims.push(...tdxClaims(rules.tdx, tdx, { expectedReportData, path: "platform.tdx", now }));
  }
  presence(
    "azureVtpm",
    azureVtpm !== undefined,
    `verified (${azureVtpm?.platform.toUpperCase() ?? ""}; the HCL report names the quoting AK)`,
  );
  if (azureVtpm !== undefined && rules.azureVtpm !== NONE) {
    claims.push(...azureVtpmClaims(rules.azureVtpm, azureVtpm, { path: "platform.azureVtpm", now }));
  }
  // Attestation documents carry no SGX evidence: a policy requiring it fails closed here.
  presence("sgx", false, "");
  presence("nvidiaGpu", gpus.length > 0, `${gpus.length} verified GPU report${gpus.length === 1 ? "" : "s"}`);
  const gpuRules = rules.nvidiaGpu;
  if (gpuRules !== NONE) {
    gpus.forEach((gpu, i) => {
      claims.push(
        ...nvidiaClaims(gpuRules, gpu, {
          session: { clientNonce: verified.nonce, keySetDigest: verified.keySetDigest },
          path: `platform.nvidiaGpu[${i}]`,
          now,
          ...(rims ? { rims } : {}),
        }),
      );
    });
  }
}
