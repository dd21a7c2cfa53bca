/** Response-code decoding (TPM 2.0 Part 2 §6.6) and the TpmError built from it. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { decodeResponseCode, TPM_RC_NAMES, TpmError } from "../src/index.js";

describe("decodeResponseCode", () => {
  test("decodes format-zero, format-one, warnings and the odd ones", () => {
    assert.deepEqual(decodeResponseCode(0), { rc: 0, name: "TPM_RC_SUCCESS", format: "zero", warning: false });
    assert.deepEqual(decodeResponseCode(0x100), {
      rc: 0x100,
      name: "TPM_RC_INITIALIZE",
      format: "zero",
      warning: false,
    });
    assert.deepEqual(decodeResponseCode(0x14a), {
      rc: 0x14a,
      name: "TPM_RC_NV_UNINITIALIZED",
      format: "zero",
      warning: false,
    });
    assert.deepEqual(decodeResponseCode(0x922), { rc: 0x922, name: "TPM_RC_RETRY", format: "zero", warning: true });
    assert.deepEqual(decodeResponseCode(0x921), { rc: 0x921, name: "TPM_RC_LOCKOUT", format: "zero", warning: true });
    // TPM_RC_HANDLE + TPM_RC_1 (handle 1), as TPM2_ReadPublic of a missing handle returns.
    assert.deepEqual(decodeResponseCode(0x18b), {
      rc: 0x18b,
      name: "TPM_RC_HANDLE",
      format: "one",
      warning: false,
      handle: 1,
    });
    // TPM_RC_AUTH_FAIL + TPM_RC_S + TPM_RC_1: session 1.
    assert.deepEqual(decodeResponseCode(0x98e), {
      rc: 0x98e,
      name: "TPM_RC_AUTH_FAIL",
      format: "one",
      warning: false,
      session: 1,
    });
    // TPM_RC_VALUE + TPM_RC_P + TPM_RC_2: parameter 2.
    assert.deepEqual(decodeResponseCode(0x2c4), {
      rc: 0x2c4,
      name: "TPM_RC_VALUE",
      format: "one",
      warning: false,
      parameter: 2,
    });
    assert.equal(decodeResponseCode(0x09d).name, "TPM_RC_POLICY_FAIL");
    assert.equal(decodeResponseCode(0x01e).name, "TPM_RC_BAD_TAG");
    assert.equal(decodeResponseCode(0x500).name, "TPM_RC_VENDOR");
    assert.equal(decodeResponseCode(0x17f).name, "TPM_RC_UNKNOWN"); // unassigned format-zero number
    assert.equal(decodeResponseCode(0x0a8).name, "TPM_RC_UNKNOWN"); // unassigned format-one number
    assert.equal(decodeResponseCode(0x000b0101).name, "TPM_RC_UNKNOWN"); // a TSS layer code, not a TPM's
    assert.equal(decodeResponseCode(0xffffffff).name, "TPM_RC_UNKNOWN");
  });

  test("is total: every 32-bit value decodes to a known name with a position in range", () => {
    const names = new Set(TPM_RC_NAMES);
    fc.assert(
      fc.property(fc.oneof(fc.nat({ max: 0xfff }), fc.integer({ min: 0, max: 0xffffffff })), (rc) => {
        const info = decodeResponseCode(rc);
        assert.ok(names.has(info.name));
        assert.equal(info.rc, rc);
        const positions = [info.parameter, info.handle, info.session].filter((p) => p !== undefined);
        assert.ok(positions.length <= 1);
        if (info.parameter !== undefined) assert.ok(info.parameter >= 1 && info.parameter <= 15);
        if (info.handle !== undefined) assert.ok(info.handle >= 1 && info.handle <= 7);
        if (info.session !== undefined) assert.ok(info.session >= 1 && info.session <= 7);
        if (info.warning) assert.equal(info.format, "zero");
        if (rc > 0xfff) assert.equal(info.name, "TPM_RC_UNKNOWN");
      }),
      { numRuns: 5000 },
    );
  });

  test("format-one: the error number and its position survive any combination", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0x3f }),
        fc.integer({ min: 1, max: 15 }),
        fc.boolean(),
        (n, pos, isParam) => {
          const rc = 0x080 | n | (isParam ? 0x040 : 0) | (pos << 8);
          const info = decodeResponseCode(rc);
          assert.equal(info.format, "one");
          assert.equal(info.name, decodeResponseCode(0x080 | n).name);
          if (isParam) assert.equal(info.parameter, pos);
          else if (pos < 8) assert.equal(info.handle, pos);
          else if (pos > 8) assert.equal(info.session, pos - 8);
        },
      ),
    );
  });
});

describe("TpmError.fromResponseCode", () => {
  test("names the command and the code, exposes rc and position", () => {
    const e = TpmError.fromResponseCode("TPM2_Quote", 0x1c4);
    assert.ok(e instanceof TpmError);
    assert.equal(e.code, "TPM_RC_VALUE");
    assert.equal(e.command, "TPM2_Quote");
    assert.equal(e.rc, 0x1c4);
    assert.equal(e.parameter, 1);
    assert.equal(e.name, "TpmError");
    assert.equal(e.message, "TPM_RC_VALUE: TPM2_Quote: the TPM returned TPM_RC_VALUE (rc 0x1c4, parameter 1)");
  });

  test("never produces TPM_RC_SUCCESS as an error code", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (rc) => {
        const e = TpmError.fromResponseCode("TPM2_GetRandom", rc);
        assert.notEqual(e.code, "TPM_RC_SUCCESS");
        assert.match(e.message, /TPM2_GetRandom/);
      }),
      { numRuns: 2000 },
    );
  });
});
