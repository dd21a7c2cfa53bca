/**
 * What `veritee verify`, `chat` and `complete` share: the policy file (read
 * and validated before anything touches the network), the INSECURE label of
 * a development policy, and `connect` from the client SDK with Node's
 * attested TLS.
 */
import { ClientError, resolveServerAddress } from "@veritee/client";
import { type ConnectOptions, connect, type Session, type Timeouts } from "@veritee/client/node";
import {
  DEVELOPMENT_POLICY_WARNING,
  insecureReasons,
  insecureSummary,
  insecureWarning,
  type Policy,
  parsePolicyJson,
} from "@veritee/policy";
import { CliError } from "./cli-error.js";
import { readInputFile } from "./io.js";

/** Read and validate `--policy FILE`. @throws CliError (file), PolicyError `invalid-policy` (kind usage: exit 2). */
export async function loadPolicyFile(file: string): Promise<Policy> {
  return parsePolicyJson(await readInputFile(file, "--policy"));
}

/**
 * Check the `<url>` argument before anything else runs: a URL the SDK would
 * refuse is a command-line mistake (exit 2), not a client failure (exit 17).
 * @throws CliError `bad-argument`
 */
export function checkServerUrl(url: string): void {
  try {
    resolveServerAddress(url);
  } catch (error) {
    if (error instanceof ClientError) {
      throw new CliError("bad-argument", `<url>: ${error.message.replace(/^invalid-options: baseURL /, "")}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * The label printed first wherever an insecure policy is used: a development
 * policy, or one that skips a security-relevant check with "any", with one
 * line per reason.
 */
export function insecureBanner(policy: Policy): string | undefined {
  const reasons = insecureReasons(policy);
  if (reasons.length === 0) return undefined;
  const head = policy.development ? DEVELOPMENT_POLICY_WARNING : insecureWarning(reasons);
  return [`⚠ ${head}`, ...reasons.map((r) => `  - ${r.path}: ${r.reason}`)].join("\n");
}

/** Parse a positive integer option. */
export function positiveInteger(value: string, option: string, max = 1_000_000): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new CliError("bad-argument", `${option} must be an integer 1..${max}`);
  }
  return n;
}

/** The largest `--timeout`: a day. */
const MAX_TIMEOUT_SECONDS = 86_400;

/** The `--timeout <seconds>` option's help text, the same on every command that has it. */
export const TIMEOUT_HELP =
  "seconds to wait for the server: for each attestation request, the whole attestation, each response and each pause in a streamed reply (default: 10, 30 and 120 s)";

/**
 * `--timeout <seconds>`: one limit for every wait (the client's connect,
 * attestation and request limits), or the client's defaults when absent.
 *
 * @throws CliError `bad-argument` for anything but an integer 1..86400.
 */
export function timeoutsOption(value: string | undefined): Timeouts | undefined {
  if (value === undefined) return undefined;
  const ms = positiveInteger(value, "--timeout", MAX_TIMEOUT_SECONDS) * 1000;
  return { connectMs: ms, attestationMs: ms, requestMs: ms };
}

/**
 * Verify the server and open the session, printing the INSECURE label and a
 * one-line summary to stderr (stdout stays the command's output).
 */
export async function openSession(
  url: string,
  policy: Policy,
  extra: Omit<ConnectOptions, "baseURL" | "policy"> = {},
): Promise<Session> {
  checkServerUrl(url);
  const banner = insecureBanner(policy);
  if (banner) process.stderr.write(`${banner}\n`);
  const session = await connect({ baseURL: url, policy, ...extra });
  const claims = session.appraisal.claims.length;
  const channel = [session.channel.sealed ? "sealed bodies" : "", session.channel.attestedTls ? "attested TLS" : ""]
    .filter((s) => s !== "")
    .join(" + ");
  process.stderr.write(
    `verified ${session.baseURL}: ${claims} policy claims passed${session.appraisal.insecure ? ` (${insecureSummary(session.appraisal)})` : ""}; channel: ${channel}\n`,
  );
  return session;
}
