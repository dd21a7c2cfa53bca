/**
 * Access control a policy can demand of a server, whatever its
 * `launch.configuration` says (even `"any"`): that it serves sealed requests
 * only (`veritee serve --require-sealed`) and that it wants an API key. A
 * server records both as booleans in its measured configuration
 * (`access: {requireSealed, requireApiKey}`, docs/ATTESTATION.md, Configuration);
 * a configuration without them comes from a server that did not record
 * them, and fails a demand: fail closed.
 */
import type { JsonObject } from "@veritee/evidence";
import type { ClaimList } from "./claims.js";
import { ANY, type PolicyAccess } from "./document.js";

/** The members of {@link PolicyAccess}, in the order claims are made, with a claim name each. */
export const ACCESS_MEMBERS: readonly (readonly [keyof PolicyAccess, string])[] = Object.freeze([
  ["requireSealed", "sealed requests only"],
  ["requireApiKey", "API key required"],
]);

/** What a measured configuration records for one access member: `true`, `false`, or not recorded (`undefined`). */
export function recordedAccess(config: JsonObject, member: keyof PolicyAccess): boolean | undefined {
  const access = config.access;
  if (typeof access !== "object" || access === null || Array.isArray(access)) return undefined;
  const value = (access as JsonObject)[member];
  return typeof value === "boolean" ? value : undefined;
}

/** One claim per member of `rules`: `true` needs the configuration to record `true` (`measurement-mismatch`). */
export function accessClaims(claims: ClaimList, rules: PolicyAccess, config: JsonObject): void {
  for (const [member, name] of ACCESS_MEMBERS) {
    const recorded = recordedAccess(config, member);
    const actual =
      recorded === undefined ? "not recorded (a server that does not measure its access control)" : String(recorded);
    const rule = rules[member];
    claims.add(
      `launch.access.${member}`,
      name,
      String(rule),
      actual,
      rule === ANY || recorded === true,
      "measurement-mismatch",
    );
  }
}
