/**
 * Validation of policy documents, version 1 (docs/POLICY.md). Strict and
 * fail-closed: every member is required, unknown members are errors, values
 * are checked for type, range and format, and the first problem is reported
 * with its JSON path. A valid document comes back as a deep-frozen copy,
 * registered as validated, with its certificates decoded once.
 */
import { bytesEqual, MalformedError } from "@veritee/core";
import { NONCE_LENGTH } from "@veritee/evidence";
import { ACCESS_MEMBERS } from "./access.js";
import { FIRMWARE_PCR_MAX, isSwtpmLocalCa, isZeroDigest } from "./development.js";
import {
  type AkProof,
  ANY,
  CHANNEL_MODES,
  type ChannelMode,
  type DigestSpec,
  type NamedCertificate,
  NONE,
  POLICY_VERSION,
  type Policy,
  type PolicyAccess,
  type PolicyDocument,
  type PolicyPlatform,
} from "./document.js";
import { ALLOW_INSECURE_RULES, type AllowInsecureRule, akProofSkipped } from "./insecure.js";
import { parseStrictJson } from "./json.js";
import { array, child, fail, integer, isPlainObject, object, oneOf, plainObject, typeName } from "./json-rules.js";
import { decodePemCertificate } from "./pem.js";
import { parseAzureVtpmRules } from "./tee/azure-vtpm.js";
import { parseNvidiaRules } from "./tee/nvidia.js";
import { parseSgxRules } from "./tee/sgx.js";
import { parseSnpRules } from "./tee/snp.js";
import { parseTdxRules } from "./tee/tdx.js";

/** Bounds of a version 1 policy. */
export const POLICY_LIMITS = Object.freeze({
  /** EK roots, and separately EK intermediates. */
  maxCertificates: 32,
  /** Characters of a PEM certificate. */
  maxPemLength: 128 * 1024,
  /** Characters of a certificate's name. */
  maxCertificateName: 128,
  /** Characters of the description. */
  maxDescription: 1024,
  /** Allowed digests in one list. */
  maxDigestList: 64,
  /** Named engine binaries (a prebuilt engine ships many CPU variants). */
  maxEngineBinaries: 256,
  /** Named models. */
  maxModels: 64,
  /** Characters of an engine binary name or model id (the launch log's bound). */
  maxMeasurementName: 256,
  /** Freshness bounds. */
  maxAgeSeconds: { min: 1, max: 86_400 },
  minNonceBytes: { min: NONCE_LENGTH.min, max: NONCE_LENGTH.max },
  /** The application PCR: a static OS PCR (TCG PC Client PFP §3.3.4). */
  appPcr: { min: 8, max: 15 },
  /** PCR indices of a PC Client TPM. */
  maxPcrIndex: 23,
});

const DIGEST = /^[0-9a-f]{64}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find control characters
const CONTROL = /[\u0000-\u001f\u007f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: newline is allowed in descriptions only
const CONTROL_EXCEPT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f]/;
const PCR_INDEX = /^(0|[1-9][0-9]?)$/;

/** Decoded trust material of a validated policy, kept beside it. */
interface TrustMaterial {
  readonly roots: readonly { readonly name: string; readonly der: Uint8Array }[];
  readonly intermediates: readonly Uint8Array[];
}

const validated = new WeakMap<object, TrustMaterial>();

function text(value: unknown, path: string, min: number, max: number, control: RegExp): string {
  if (typeof value !== "string") fail(path, `must be a string, not ${typeName(value)}`);
  if (value.length < min) fail(path, "must not be empty");
  if (value.length > max) fail(path, `must be at most ${max} characters`);
  if (control.test(value)) fail(path, "must not hold control characters");
  return value;
}

function digest(value: unknown, path: string): string {
  if (typeof value !== "string")
    fail(path, `must be a SHA-256 digest (64 lower-case hex digits), not ${typeName(value)}`);
  if (DIGEST.test(value)) return value;
  if (/^[0-9a-fA-F]{64}$/.test(value)) fail(path, "must be lower-case hex");
  if (/^[0-9a-fA-F]*$/.test(value)) fail(path, `must be 64 hex digits (SHA-256), not ${value.length}`);
  return fail(path, 'must be a SHA-256 digest (64 lower-case hex digits) or "any"');
}

/** A digest, a non-empty list of distinct digests, or "any". */
function digestSpec(value: unknown, path: string): DigestSpec {
  if (value === ANY) return ANY;
  if (typeof value === "string") return digest(value, path);
  if (Array.isArray(value)) {
    const list = array(value, path, 1, POLICY_LIMITS.maxDigestList).map((d, i) => digest(d, child(path, i)));
    if (new Set(list).size !== list.length) fail(path, "lists a digest twice");
    return Object.freeze(list);
  }
  return fail(path, `must be a SHA-256 digest, a non-empty list of digests, or "any", not ${typeName(value)}`);
}

/** `"any"` or an object of digest specs by name; names checked by `checkName`. */
function namedSpecs(
  value: unknown,
  path: string,
  max: number,
  checkName: (name: string, path: string) => void,
): "any" | Readonly<Record<string, DigestSpec>> {
  if (value === ANY) return ANY;
  if (!isPlainObject(value)) fail(path, `must be "any" or an object, not ${typeName(value)}`);
  const names = Object.keys(value);
  if (names.length > max) fail(path, `must have at most ${max} members`);
  // Object.fromEntries defines own properties, so even a name like "__proto__" stays data.
  return Object.freeze(
    Object.fromEntries(
      names.map((name) => {
        const p = child(path, name);
        checkName(name, p);
        return [name, digestSpec(value[name], p)];
      }),
    ),
  );
}

function measurementName(name: string, path: string): void {
  if (name.length === 0) fail(path, "an empty name");
  if (name.length > POLICY_LIMITS.maxMeasurementName)
    fail(path, `a name longer than ${POLICY_LIMITS.maxMeasurementName}`);
  if (CONTROL.test(name)) fail(path, "a name with control characters");
}

function certificates(
  value: unknown,
  path: string,
  min: number,
  development: boolean,
): { list: readonly NamedCertificate[]; der: Uint8Array[] } {
  const entries = array(value, path, min, POLICY_LIMITS.maxCertificates);
  const list: NamedCertificate[] = [];
  const ders: Uint8Array[] = [];
  entries.forEach((entry, i) => {
    const p = child(path, i);
    const o = object(entry, p, ["name", "pem"]);
    const name = text(o.name, child(p, "name"), 1, POLICY_LIMITS.maxCertificateName, CONTROL);
    if (list.some((c) => c.name === name)) fail(child(p, "name"), "names a certificate twice");
    if (typeof o.pem !== "string") fail(child(p, "pem"), `must be a PEM string, not ${typeName(o.pem)}`);
    if (o.pem.length > POLICY_LIMITS.maxPemLength) fail(child(p, "pem"), "is too long");
    let decoded: ReturnType<typeof decodePemCertificate>;
    try {
      decoded = decodePemCertificate(o.pem);
    } catch (error) {
      if (error instanceof MalformedError)
        fail(child(p, "pem"), `is not a PEM X.509 certificate (${error.message})`, error);
      throw error;
    }
    if (ders.some((d) => bytesEqual(d, decoded.der))) fail(child(p, "pem"), "repeats a certificate");
    if (!development && isSwtpmLocalCa(decoded.certificate)) {
      fail(child(p, "pem"), "is the swtpm local CA, which only a development policy may trust (development: true)");
    }
    list.push(Object.freeze({ name, pem: o.pem }));
    ders.push(decoded.der);
  });
  return { list: Object.freeze(list), der: ders };
}

/**
 * Validate a policy document (already parsed JSON) and return it as a
 * {@link Policy}: a deep-frozen copy that {@link evaluate} accepts without
 * validating again. Every rule of docs/POLICY.md is checked; the first
 * problem is thrown with the JSON path of its field.
 *
 * @throws PolicyError `invalid-policy` (with `path`); nothing else, whatever the input.
 * @example
 * const policy = parsePolicy(JSON.parse(readFileSync("policy.json", "utf8")));
 */
export function parsePolicy(input: unknown): Policy {
  if (isPolicy(input)) return input;
  if (!isPlainObject(input)) fail("", `must be a JSON object, not ${typeName(input)}`);
  // The version first: a newer document should say so, not fail on its new members.
  if (!Object.hasOwn(input, "version")) fail("version", "missing (every member is required)");
  if (input.version !== POLICY_VERSION) {
    if (typeof input.version === "number") {
      fail("version", `unsupported policy version (this client reads version ${POLICY_VERSION})`);
    }
    fail("version", `must be the number ${POLICY_VERSION}`);
  }
  // `allowInsecure` is the one optional member: absent, it allows nothing (the secure default).
  const { allowInsecure: allowInsecureIn, ...required } = input;
  const top = object(required, "", [
    "version",
    "development",
    "description",
    "trust",
    "boot",
    "launch",
    "freshness",
    "channel",
    "platform",
  ]);
  if (typeof top.development !== "boolean")
    fail("development", `must be true or false, not ${typeName(top.development)}`);
  const development = top.development;
  const description = text(top.description, "description", 0, POLICY_LIMITS.maxDescription, CONTROL_EXCEPT_NEWLINE);

  const trustIn = object(top.trust, "trust", ["ekRoots", "ekIntermediates", "akProof"]);
  const roots = certificates(trustIn.ekRoots, "trust.ekRoots", 1, development);
  const intermediates = certificates(trustIn.ekIntermediates, "trust.ekIntermediates", 0, development);
  const akProof = oneOf<AkProof>(trustIn.akProof, "trust.akProof", ["credential-activation", "any"]);

  // `launch.access` is optional: absent, it demands nothing beyond the configuration rule.
  const { access: accessIn, ...launchRequired } = plainObject(top.launch, "launch");
  const launchIn = object(launchRequired, "launch", [
    "pcr",
    "codeBundle",
    "configuration",
    "runtime",
    "engineBinaries",
    "models",
  ]);
  const appPcr = integer(launchIn.pcr, "launch.pcr", POLICY_LIMITS.appPcr.min, POLICY_LIMITS.appPcr.max);

  const bootIn = object(top.boot, "boot", ["sha256"]);
  const bootSha256 = namedSpecs(bootIn.sha256, "boot.sha256", POLICY_LIMITS.maxPcrIndex + 1, (name, path) => {
    if (!PCR_INDEX.test(name) || Number(name) > POLICY_LIMITS.maxPcrIndex) {
      fail(path, `is not a PCR index (decimal 0..${POLICY_LIMITS.maxPcrIndex}, no leading zeros)`);
    }
    if (Number(name) === appPcr) fail(path, "is the application PCR (launch.pcr), which the launch log checks");
  });
  if (bootSha256 !== ANY) {
    if (Object.keys(bootSha256).length === 0) fail("boot.sha256", 'must name at least one PCR, or be "any"');
    if (!development) {
      for (const [index, spec] of Object.entries(bootSha256)) {
        const zero = spec !== ANY && (typeof spec === "string" ? isZeroDigest(spec) : spec.some(isZeroDigest));
        if (zero && Number(index) <= FIRMWARE_PCR_MAX) {
          fail(
            child("boot.sha256", index),
            "allows a zero firmware PCR (no measured boot), which only a development policy may accept",
          );
        }
      }
    }
  }

  const launch = Object.freeze({
    pcr: appPcr,
    codeBundle: digestSpec(launchIn.codeBundle, "launch.codeBundle"),
    configuration: digestSpec(launchIn.configuration, "launch.configuration"),
    runtime: digestSpec(launchIn.runtime, "launch.runtime"),
    engineBinaries: namedSpecs(
      launchIn.engineBinaries,
      "launch.engineBinaries",
      POLICY_LIMITS.maxEngineBinaries,
      measurementName,
    ),
    models: namedSpecs(launchIn.models, "launch.models", POLICY_LIMITS.maxModels, measurementName),
    ...(Object.hasOwn(top.launch as object, "access") ? { access: parseAccess(accessIn) } : {}),
  });

  const freshIn = object(top.freshness, "freshness", ["maxAgeSeconds", "minNonceBytes"]);
  const freshness = Object.freeze({
    maxAgeSeconds: integer(
      freshIn.maxAgeSeconds,
      "freshness.maxAgeSeconds",
      POLICY_LIMITS.maxAgeSeconds.min,
      POLICY_LIMITS.maxAgeSeconds.max,
    ),
    minNonceBytes: integer(
      freshIn.minNonceBytes,
      "freshness.minNonceBytes",
      POLICY_LIMITS.minNonceBytes.min,
      POLICY_LIMITS.minNonceBytes.max,
    ),
  });

  const channelIn = object(top.channel, "channel", ["modes"]);
  const modes = array(channelIn.modes, "channel.modes", 1, CHANNEL_MODES.length).map((m, i) =>
    oneOf<ChannelMode>(m, child("channel.modes", i), CHANNEL_MODES),
  );
  if (new Set(modes).size !== modes.length) fail("channel.modes", "lists a mode twice");

  const platform = parsePlatform(top.platform);
  const allowInsecure = Object.hasOwn(input, "allowInsecure") ? parseAllowInsecure(allowInsecureIn) : undefined;
  checkAllowInsecure(development, { trust: { akProof } as PolicyDocument["trust"], platform }, allowInsecure);

  const policy: PolicyDocument = Object.freeze({
    version: POLICY_VERSION,
    development,
    description,
    trust: Object.freeze({ ekRoots: roots.list, ekIntermediates: intermediates.list, akProof }),
    boot: Object.freeze({ sha256: bootSha256 }),
    launch,
    freshness,
    channel: Object.freeze({ modes: Object.freeze(modes) }),
    platform,
    ...(allowInsecure !== undefined ? { allowInsecure } : {}),
  });
  validated.set(
    policy,
    Object.freeze({
      roots: Object.freeze(roots.list.map((c, i) => Object.freeze({ name: c.name, der: roots.der[i]! }))),
      intermediates: Object.freeze(intermediates.der),
    }),
  );
  return policy as Policy;
}

/** `launch.access`: each member `true` (demanded) or `"any"`, both required. */
function parseAccess(value: unknown): PolicyAccess {
  const o = object(
    value,
    "launch.access",
    ACCESS_MEMBERS.map(([member]) => member),
  );
  const rule = (member: keyof PolicyAccess): true | typeof ANY => {
    const v = o[member];
    if (v === true || v === ANY) return v;
    const path = child("launch.access", member);
    if (v === false) fail(path, 'must be true or "any" (false would demand a server without this access control)');
    return fail(path, `must be true or "any", not ${typeName(v)}`);
  };
  return Object.freeze({ requireSealed: rule("requireSealed"), requireApiKey: rule("requireApiKey") });
}

/** `allowInsecure`: 1–N distinct names of {@link ALLOW_INSECURE_RULES}. */
function parseAllowInsecure(value: unknown): readonly AllowInsecureRule[] {
  const names = array(value, "allowInsecure", 1, ALLOW_INSECURE_RULES.length).map((v, i) =>
    oneOf<AllowInsecureRule>(v, child("allowInsecure", i), ALLOW_INSECURE_RULES),
  );
  if (new Set(names).size !== names.length) fail("allowInsecure", "lists a rule twice");
  return Object.freeze(names);
}

/**
 * A production policy skips the AK proof only when it says so twice:
 * `trust.akProof: "any"` and `allowInsecure: ["akProof"]` (unless a required
 * `platform.azureVtpm` binds the AK, see `akProofSkipped`). An allowance for
 * a rule that is not skipped is an error too, so it cannot linger unnoticed
 * and apply to a later edit.
 */
function checkAllowInsecure(
  development: boolean,
  policy: Pick<PolicyDocument, "trust" | "platform">,
  allowInsecure: readonly AllowInsecureRule[] | undefined,
): void {
  const allowed = new Set(allowInsecure ?? []);
  const skipped = akProofSkipped(policy);
  if (skipped && !development && !allowed.has("akProof")) {
    fail(
      "trust.akProof",
      'is "any" in a production policy, which accepts a quote from any TPM: use "credential-activation", or name it in allowInsecure (["akProof"]) to accept that knowingly',
    );
  }
  if (!skipped && allowed.has("akProof")) {
    fail(
      child("allowInsecure", allowInsecure!.indexOf("akProof")),
      'names akProof, but trust.akProof does not skip the AK proof (it is not "any", or platform.azureVtpm binds the AK)',
    );
  }
}

/**
 * The `platform` section: for each kind, `"none"` or that kind's rule set,
 * validated by its own strict parser with paths like `platform.sevSnp.measurement`.
 */
function parsePlatform(value: unknown): PolicyPlatform {
  // `sgx` is the one optional member (absent means "none"), so policies written before it stay valid.
  const sgxGiven = isPlainObject(value) && Object.hasOwn(value, "sgx");
  const members = ["sevSnp", "tdx", "nvidiaGpu", "azureVtpm", ...(sgxGiven ? ["sgx"] : [])];
  const o = object(value, "platform", members);
  const section = <T>(v: unknown, path: string, parse: (v: unknown, path: string) => T): T | typeof NONE => {
    if (v === NONE) return NONE;
    if (!isPlainObject(v)) fail(path, `must be "none" or an object of rules, not ${typeName(v)}`);
    return parse(v, path);
  };
  return Object.freeze({
    sevSnp: section(o.sevSnp, "platform.sevSnp", parseSnpRules),
    tdx: section(o.tdx, "platform.tdx", parseTdxRules),
    nvidiaGpu: section(o.nvidiaGpu, "platform.nvidiaGpu", parseNvidiaRules),
    azureVtpm: section(o.azureVtpm, "platform.azureVtpm", parseAzureVtpmRules),
    ...(sgxGiven ? { sgx: section(o.sgx, "platform.sgx", parseSgxRules) } : {}),
  });
}

/**
 * Parse and validate policy JSON text (or its UTF-8 bytes) strictly: no
 * duplicate member names, at most 1 MiB (see `parseStrictJson`), then
 * {@link parsePolicy}.
 *
 * @throws PolicyError `invalid-policy`; nothing else, whatever the input.
 * @example
 * const policy = parsePolicyJson(await readFile("policy.json"));
 */
export function parsePolicyJson(input: string | Uint8Array): Policy {
  let json: unknown;
  try {
    json = parseStrictJson(input);
  } catch (error) {
    if (error instanceof MalformedError) fail("", `not valid JSON (${error.message})`, error);
    throw error;
  }
  return parsePolicy(json);
}

/** True only for policies {@link parsePolicy} returned. */
export function isPolicy(value: unknown): value is Policy {
  return typeof value === "object" && value !== null && validated.has(value);
}

/** The decoded trust material of a validated policy. @internal */
export function trustMaterial(policy: Policy): TrustMaterial {
  const material = validated.get(policy);
  if (material === undefined) throw new TypeError("not a validated policy");
  return material;
}
