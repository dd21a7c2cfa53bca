/**
 * The launch environment a server recorded: the Node.js start-up flags and
 * loader-relevant environment variables (`NODE_OPTIONS`, `LD_PRELOAD`, …)
 * that change what code runs without changing a measured file. A server
 * records them as `launchEnvironment` in its measured configuration
 * (docs/ATTESTATION.md, Configuration). A production policy accepts only an
 * empty one, whatever its `launch.configuration` says (even `"any"`); a
 * configuration without the member comes from a server that did not record
 * it, and is refused as well: fail closed.
 */
import type { JsonObject, JsonValue } from "@veritee/evidence";

/** Whether a measured configuration's launch environment is empty, and what it holds, for a claim (names only). */
export function launchEnvironmentOf(config: JsonObject): {
  readonly empty: boolean;
  readonly description: string;
} {
  const recorded = config.launchEnvironment;
  if (typeof recorded !== "object" || recorded === null || Array.isArray(recorded)) {
    return { empty: false, description: "not recorded (a server that does not measure its start-up flags)" };
  }
  const { execArgv, env } = recorded as { readonly execArgv?: JsonValue; readonly env?: JsonValue };
  if (!Array.isArray(execArgv) || typeof env !== "object" || env === null || Array.isArray(env)) {
    return { empty: false, description: "not readable (execArgv and env expected)" };
  }
  const names = Object.keys(env);
  if (execArgv.length === 0 && names.length === 0) return { empty: true, description: "none" };
  const parts = [
    ...(execArgv.length > 0 ? [`${execArgv.length} Node.js flag(s)`] : []),
    ...(names.length > 0 ? [`variables ${names.join(", ")}`] : []),
  ];
  return { empty: false, description: parts.join("; ") };
}
