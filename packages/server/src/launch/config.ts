/**
 * The server configuration as far as the launch measures it, and the rule
 * that keeps secrets out of the measurement: every field listed in
 * {@link SECRET_CONFIG_FIELDS} is removed before the configuration is
 * serialized, measured or logged. The measured configuration is published in
 * the launch log, so anything that stays in it is public.
 */
import type { JsonObject } from "@veritee/evidence";
import { LaunchError } from "./errors.js";
import type { LaunchEnvironment } from "./launch-environment.js";

/** The embedded llama.cpp engine. */
export interface EmbeddedEngineConfig {
  readonly kind: "embedded";
  /** The model id clients name (e.g. "stories260K"). */
  readonly modelId: string;
  /** Path of the GGUF model file. */
  readonly modelPath: string;
  /** The model file's pinned SHA-256 (lower-case hex), also measured from the file itself. */
  readonly modelSha256: string;
  /** Context window in tokens per sequence. */
  readonly contextSize: number;
  /** CPU threads for inference. */
  readonly threads: number;
  /** "none" for CPU only; "auto" where a GPU is present. */
  readonly gpu: "none" | "auto";
  /**
   * A sealed model (docs/CUSTODY.md): `modelPath` names the sealed file and
   * `modelSha256` is the plaintext's SHA-256 from its header (verified when
   * it is unsealed). Absent for a plaintext model.
   */
  readonly sealed?: SealedModelConfig;
}

/** Which sealed file, from which deployment and custodians: published, so clients see which model they talk to. */
export interface SealedModelConfig {
  /** SHA-256 of the whole sealed file, lower-case hex. */
  readonly sha256: string;
  /** The custodians' deployment the key is released for. */
  readonly deployment: string;
  /** The custodians asked for the key (base URLs, in the order given). */
  readonly custodians: readonly string[];
  /** Shares needed: 1 for one custodian's whole key. */
  readonly threshold: number;
}

/** The ONNX engine (onnxruntime-node): each model's name and the SHA-256 of the file loaded. */
export interface OnnxEngineConfig {
  readonly kind: "onnx";
  readonly models: readonly { readonly name: string; readonly sha256: string }[];
  /** onnxruntime execution providers, in order. */
  readonly executionProviders: readonly string[];
}

/** An upstream OpenAI-compatible engine (vLLM, llama.cpp server, Ollama) inside the same trust boundary. */
export interface UpstreamEngineConfig {
  readonly kind: "upstream";
  readonly modelId: string;
  /** The model's SHA-256 as declared by the operator (the upstream process loads it), or null. */
  readonly modelSha256: string | null;
  /** Base URL of the upstream API; must carry no credentials (user:password@). */
  readonly url: string;
  /** SECRET: the upstream API key. Never measured, never logged. */
  readonly apiKey?: string;
}

/** Request limits. */
export interface ServerLimits {
  readonly maxRequestBytes: number;
  readonly maxConcurrentRequests: number;
  readonly maxQueuedRequests: number;
  readonly requestTimeoutMs: number;
  readonly maxTokens: number;
}

/** Which TPM the server uses. */
export type TpmConfig =
  | { readonly kind: "device"; readonly path: string }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  /** Development only: a fresh swtpm started by the server, with its own local CA. */
  | { readonly kind: "swtpm-dev"; readonly stateDir: string };

/**
 * Who may reach the model routes, as far as a client must know it before
 * sending anything: whether plaintext requests are refused (only sealed ones
 * are served) and whether an API key is required. Only whether keys are
 * configured is measured, never a key or its hash (a policy must not carry
 * secrets, and a key's hash would let anyone test guesses offline).
 */
export interface ServerAccess {
  /** `--require-sealed`: plaintext requests to the model routes get 403. */
  readonly requireSealed: boolean;
  /** `--api-key`/`--api-key-file`/`$VERITEE_API_KEY`: the model routes need a key. */
  readonly requireApiKey: boolean;
}

/** The server configuration. */
export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly engine: EmbeddedEngineConfig | UpstreamEngineConfig | OnnxEngineConfig;
  readonly limits: ServerLimits;
  readonly tpm: TpmConfig;
  /** The application PCR the launch is measured into (8–15; Veritee uses 15). */
  readonly appPcr: number;
  /**
   * Node.js start-up flags and loader-relevant environment variables
   * (launch-environment.ts): empty for a production launch; published in
   * the launch log, so a policy pins them through the configuration digest.
   */
  readonly launchEnvironment: LaunchEnvironment;
  /** The access rules; measured so that a client can require a sealed-only server (docs/ATTESTATION.md "Configuration"). */
  readonly access: ServerAccess;
}

/**
 * Dotted paths of configuration fields that are secret. They are removed
 * before measuring; nothing else is. Add every new secret field here.
 */
export const SECRET_CONFIG_FIELDS: readonly string[] = Object.freeze(["engine.apiKey"]);

/**
 * The configuration as measured: a deep JSON copy with the secret fields
 * removed (and undefined members dropped, as JSON has none).
 *
 * @throws LaunchError `bad-config` for a value JSON cannot carry (a function,
 *   a bigint, a non-finite number), an upstream URL with credentials in it,
 *   or a member name that looks like an array index (its JSON member order
 *   would differ between serializers).
 * @example
 * const measured = measuredConfiguration(config); // no engine.apiKey
 */
export function measuredConfiguration(config: ServerConfig): JsonObject {
  if (config.engine.kind === "upstream") {
    let url: URL;
    try {
      url = new URL(config.engine.url);
    } catch (cause) {
      throw new LaunchError("bad-config", "engine.url is not a URL", { cause });
    }
    if (url.username !== "" || url.password !== "") {
      // Credentials in the URL would be measured and published; they belong in engine.apiKey.
      throw new LaunchError("bad-config", "engine.url must not carry credentials; use engine.apiKey");
    }
  }
  return copyWithout(config, "", new Set(SECRET_CONFIG_FIELDS), 0) as JsonObject;
}

function copyWithout(value: unknown, path: string, secrets: ReadonlySet<string>, depth: number): unknown {
  if (depth > 16) throw new LaunchError("bad-config", "the configuration is nested too deeply");
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new LaunchError("bad-config", `${path || "config"} is not a finite number`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => copyWithout(v, `${path}[${i}]`, secrets, depth + 1));
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [name, member] of Object.entries(value)) {
      const memberPath = path === "" ? name : `${path}.${name}`;
      if (secrets.has(memberPath) || member === undefined) continue;
      if (/^(0|[1-9][0-9]*)$/.test(name)) {
        throw new LaunchError("bad-config", "configuration member names must not look like array indices");
      }
      if (name === "__proto__") throw new LaunchError("bad-config", "configuration member name __proto__");
      out[name] = copyWithout(member, memberPath, secrets, depth + 1);
    }
    return out;
  }
  throw new LaunchError("bad-config", `${path || "config"} holds a ${typeof value}, which JSON cannot carry`);
}
