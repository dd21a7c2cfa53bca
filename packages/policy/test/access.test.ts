/**
 * `launch.access` claims against a measured configuration: a demand (`true`)
 * passes only where the configuration records `true`; `false` and "not
 * recorded" fail (fail closed); `"any"` records what the server says.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { accessClaims } from "../src/access.js";
import { ClaimList } from "../src/claims.js";
import type { PolicyAccess } from "../src/index.js";

function claims(rules: PolicyAccess, config: Parameters<typeof accessClaims>[2]) {
  const list = new ClaimList();
  accessClaims(list, rules, config);
  return list.claims.map((c) => [c.path, c.expected, c.actual, c.ok, c.code]);
}

describe("accessClaims", () => {
  const DEMAND: PolicyAccess = { requireSealed: true, requireApiKey: true };

  test("a demand passes where the configuration records true", () => {
    assert.deepEqual(claims(DEMAND, { access: { requireSealed: true, requireApiKey: true } }), [
      ["launch.access.requireSealed", "true", "true", true, null],
      ["launch.access.requireApiKey", "true", "true", true, null],
    ]);
  });

  test("a demand fails where the configuration records false, naming the member", () => {
    assert.deepEqual(claims(DEMAND, { access: { requireSealed: false, requireApiKey: true } }), [
      ["launch.access.requireSealed", "true", "false", false, "measurement-mismatch"],
      ["launch.access.requireApiKey", "true", "true", true, null],
    ]);
    assert.deepEqual(
      claims({ requireSealed: "any", requireApiKey: true }, { access: { requireSealed: false, requireApiKey: false } }),
      [
        ["launch.access.requireSealed", "any", "false", true, null],
        ["launch.access.requireApiKey", "true", "false", false, "measurement-mismatch"],
      ],
    );
  });

  test("a configuration that does not record access fails every demand", () => {
    const configs: Parameters<typeof accessClaims>[2][] = [
      {},
      { access: null },
      { access: { requireSealed: "true", requireApiKey: 1 } },
    ];
    for (const config of configs) {
      const made = claims(DEMAND, config);
      assert.ok(
        made.every(([, , actual, ok]) => ok === false && String(actual).startsWith("not recorded")),
        JSON.stringify(config),
      );
    }
  });
});
