/**
 * The launch environment: what, besides the measured files, decides which
 * code this process runs. Node's own flags (`process.execArgv`: `--import`,
 * `--require`, `--loader`, `--experimental-*`) and environment variables
 * (`NODE_OPTIONS="--import evil.mjs"`, `NODE_PATH`), the dynamic linker's
 * (`LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`; ld.so(8)), glibc's and
 * OpenSSL's module loading (`GCONV_PATH`, `OPENSSL_CONF`, `OPENSSL_MODULES`),
 * and the trust anchors of outbound TLS (`NODE_EXTRA_CA_CERTS`,
 * `SSL_CERT_FILE`: a CA of the operator's could read an upstream engine's
 * prompts). None of them changes a measured file, so each would leave the
 * code-bundle digest intact while running other code.
 *
 * So the launch always records them in the configuration event (a policy
 * pins them through the configuration digest, and `veritee measure` expects
 * them empty), and the server refuses to start when any is present unless the
 * operator says so explicitly (`veritee serve --allow-loader-env`).
 */
import { readFileSync } from "node:fs";
import { LaunchError } from "./errors.js";

/** The start-up flags and loader-relevant environment variables of a launch, as the configuration event records them. */
export interface LaunchEnvironment {
  /** `process.execArgv`: the Node.js flags before the script, in order. */
  readonly execArgv: readonly string[];
  /** Every loader-relevant variable that is set ({@link isLoaderVariable}), by name. */
  readonly env: Readonly<Record<string, string>>;
}

/** A launch with no flags and no loader-relevant variables: what a production launch records. */
export const NO_LOADER_ENVIRONMENT: LaunchEnvironment = Object.freeze({
  execArgv: Object.freeze([]) as readonly string[],
  env: Object.freeze({}),
});

/** Variables, by exact name, that change what code runs or whom outbound TLS trusts. */
const LOADER_VARIABLES: ReadonlySet<string> = new Set([
  // Node.js (node(1), "Environment"): extra flags, module search paths, code caches, CAs and TLS checks, debug output.
  "NODE_OPTIONS",
  "NODE_PATH",
  "NODE_PRESERVE_SYMLINKS",
  "NODE_REPL_EXTERNAL_MODULE",
  "NODE_ICU_DATA",
  "NODE_COMPILE_CACHE",
  "NODE_V8_COVERAGE",
  "NODE_DEBUG",
  "NODE_DEBUG_NATIVE",
  "NODE_EXTRA_CA_CERTS",
  "NODE_TLS_REJECT_UNAUTHORIZED",
  "NODE_USE_ENV_PROXY",
  // glibc: character-set converters are shared objects loaded from this path; tunables change the allocator.
  "GCONV_PATH",
  "GLIBC_TUNABLES",
  // OpenSSL (Node's crypto): a configuration file can load providers and engines.
  "OPENSSL_CONF",
  "OPENSSL_MODULES",
  "OPENSSL_ENGINES",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
]);

/**
 * Prefixes of loader-relevant variables: the dynamic linker reads every
 * `LD_*` (ld.so(8)), node-llama-cpp reads `NODE_LLAMA_CPP_*` (which native
 * build to load), and ggml reads `GGML_*` (backends and their paths).
 */
const LOADER_PREFIXES: readonly string[] = ["LD_", "NODE_LLAMA_CPP_", "GGML_"];

/** True for an environment variable that {@link LaunchEnvironment} records. */
export function isLoaderVariable(name: string): boolean {
  return LOADER_VARIABLES.has(name) || LOADER_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/**
 * The environment this process was started with: `process.env`, overlaid
 * with the kernel's copy of the initial environment, /proc/self/environ
 * (proc(5)), where readable. Code that ran before ours (a preload) can delete
 * `process.env.NODE_OPTIONS` to hide itself; the initial copy is what ld.so
 * and Node acted on.
 */
function startupEnvironment(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  let environ: string;
  try {
    environ = readFileSync("/proc/self/environ", "latin1");
  } catch {
    return env; // not Linux: process.env is all there is
  }
  for (const entry of environ.split("\u0000")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = Buffer.from(entry.slice(eq + 1), "latin1").toString("utf8");
  }
  return env;
}

/**
 * This process's launch environment (or that of the given flags and
 * environment): the flags as given, the loader-relevant variables sorted by
 * name. A variable set to the empty string is recorded too: for some (e.g.
 * `NODE_TLS_REJECT_UNAUTHORIZED=""`) being set is what counts.
 */
export function currentLaunchEnvironment(
  source: { readonly execArgv: readonly string[]; readonly env: Readonly<Record<string, string | undefined>> } = {
    execArgv: process.execArgv,
    env: startupEnvironment(),
  },
): LaunchEnvironment {
  const env: Record<string, string> = {};
  for (const name of Object.keys(source.env).sort()) {
    const value = source.env[name];
    if (value !== undefined && isLoaderVariable(name)) env[name] = value;
  }
  return Object.freeze({ execArgv: Object.freeze([...source.execArgv]), env: Object.freeze(env) });
}

/** True when the launch has no start-up flags and no loader-relevant variables. */
export function isEmptyLaunchEnvironment(environment: LaunchEnvironment): boolean {
  return environment.execArgv.length === 0 && Object.keys(environment.env).length === 0;
}

/**
 * Refuse a launch with start-up flags or loader-relevant variables. The
 * message names the flags' count and the variables' names, never their
 * values (a value could be a path the operator would rather not print).
 *
 * @throws LaunchError `loader-environment`.
 * @example
 * assertNoLoaderEnvironment(currentLaunchEnvironment()); // NODE_OPTIONS=--import=x.mjs → throws
 */
export function assertNoLoaderEnvironment(environment: LaunchEnvironment): void {
  if (isEmptyLaunchEnvironment(environment)) return;
  const what = [
    ...(environment.execArgv.length > 0 ? [`${environment.execArgv.length} Node.js flag(s) (process.execArgv)`] : []),
    ...Object.keys(environment.env),
  ];
  throw new LaunchError(
    "loader-environment",
    `refusing to start: ${what.join(", ")} can change the code this process runs without changing a measured file; ` +
      "unset them, or pass --allow-loader-env to start anyway with them recorded in the configuration event " +
      "(a policy from veritee measure then refuses the server)",
  );
}
