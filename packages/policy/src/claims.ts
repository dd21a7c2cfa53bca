/**
 * How every evaluator (the policy's own and each TEE section's) records its
 * claims: one builder, one way to describe and match a value against a
 * rule's alternatives, and one allow-list check. Shared so that a claim's
 * wording and its failure code cannot drift between sections.
 */
import type { Claim } from "./appraisal.js";
import { ANY } from "./document.js";
import type { PolicyCode } from "./errors.js";

/** What a rule accepts: one value, one of a non-empty list, or "any". */
export type Alternatives = typeof ANY | string | readonly string[];

/** The `expected` text of a claim against `spec`: the value, or "one of a, b". */
export function describeAlternatives(spec: Alternatives): string {
  if (typeof spec === "string") return spec;
  return spec.length === 1 ? spec[0]! : `one of ${spec.join(", ")}`;
}

/** Whether `actual` is one of the values `spec` accepts ("any" accepts everything). */
export function allows(spec: Alternatives, actual: string): boolean {
  if (spec === ANY) return true;
  return typeof spec === "string" ? spec === actual : spec.includes(actual);
}

/** Which items a rule lists and which the evidence reports, for {@link ClaimList.allowList}. */
export interface AllowList<K> {
  /** The rule's items and the values each accepts. */
  readonly listed: ReadonlyMap<K, Alternatives>;
  /** The evidence's items and their values, in the order their claims are recorded (a key may repeat). */
  readonly reported: Iterable<readonly [K, string]>;
  /** A claim's member path (below the builder's prefix) and name for an item. */
  readonly member: (key: K) => string;
  readonly name: (key: K) => string;
  /** The `expected` text of a reported item the rule does not list. */
  readonly unlisted: string;
  /** The `actual` text of a listed item the evidence lacks; leave out when a listed item may be absent. */
  readonly absent?: string;
}

/** Claims accumulate here, each one frozen, in the order they are made. */
export class ClaimList {
  readonly #claims: Claim[] = [];
  readonly #prefix: string | undefined;

  /** @param prefix the section's JSON path, put before every member (none: members are full paths). */
  constructor(prefix?: string) {
    this.#prefix = prefix;
  }

  /** Record one claim; a passing claim carries no code. */
  add(member: string, name: string, expected: string, actual: string, ok: boolean, code: PolicyCode): void {
    const path = this.#prefix === undefined ? member : `${this.#prefix}.${member}`;
    this.#claims.push(Object.freeze({ path, name, expected, actual, ok, code: ok ? null : code }));
  }

  /** Record claims made elsewhere (a delegated section's), as they are. */
  push(...claims: readonly Claim[]): void {
    this.#claims.push(...claims);
  }

  /** Record a digest against the values `spec` accepts (`measurement-mismatch`). */
  digest(member: string, name: string, spec: Alternatives, actual: string): void {
    this.match(member, name, spec, actual, "measurement-mismatch");
  }

  /** Record `actual` against the values `spec` accepts. */
  match(member: string, name: string, spec: Alternatives, actual: string, code: PolicyCode): void {
    this.add(member, name, describeAlternatives(spec), actual, allows(spec, actual), code);
  }

  /**
   * An allow-list: every reported item must be listed and match
   * (`measurement-unexpected`, `measurement-mismatch`), and, when `absent`
   * is given, every listed item must be reported (`measurement-missing`).
   */
  allowList<K>(list: AllowList<K>): void {
    const seen = new Set<K>();
    for (const [key, actual] of list.reported) {
      seen.add(key);
      const spec = list.listed.get(key);
      if (spec === undefined)
        this.add(list.member(key), list.name(key), list.unlisted, actual, false, "measurement-unexpected");
      else this.match(list.member(key), list.name(key), spec, actual, "measurement-mismatch");
    }
    if (list.absent === undefined) return;
    for (const [key, spec] of list.listed) {
      if (!seen.has(key))
        this.add(
          list.member(key),
          list.name(key),
          describeAlternatives(spec),
          list.absent,
          false,
          "measurement-missing",
        );
    }
  }

  /** The claims so far, frozen. */
  get claims(): readonly Claim[] {
    return Object.freeze([...this.#claims]);
  }
}
