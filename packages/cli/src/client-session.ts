/**
 * What `veritee verify`, `chat` and `complete` share: the policy file (read
 * and validated before anything touches the network), the INSECURE label of
 * a development policy, and `connect` from the client SDK with Node's
 * attested TLS.
 */
import { ClientError, resolveServerAddress } from "@veritee/client";
import { type ConnectOptions, connect, type Session } from "@veritee/client/node";
import { DEVELOPMENT_POLICY_WARNING, type Policy, parsePolicyJson } from "@veritee/policy";
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

/** The label printed first wherever a development policy is used. */
export function insecureBanner(policy: Policy): string | undefined {
  return policy.development ? `⚠ ${DEVELOPMENT_POLICY_WARNING}` : undefined;
}

/** Parse a positive integer option. */
export function positiveInteger(value: string, option: string, max = 1_000_000): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new CliError("bad-argument", `${option} must be an integer 1..${max}`);
  }
  return n;
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
    `verified ${session.baseURL}: ${claims} policy claims passed${session.appraisal.insecure ? " (INSECURE: development policy)" : ""}; channel: ${channel}\n`,
  );
  return session;
}
