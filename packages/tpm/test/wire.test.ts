/**
 * Command encoding and response decoding without a TPM: known bytes, strict
 * framing, and property tests that random or mutated responses yield only
 * typed errors.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ByteReader, ByteWriter, fromHex, type HashAlg, MalformedError, TPM_RH, toHex } from "@veritee/core";
import fc from "fast-check";
import { flushContextCommand, getHandlesCommand, getPropertyCommand, getRandomCommand } from "../src/commands/basic.js";
import { nvReadCommand, nvReadPublicCommand } from "../src/commands/nv.js";
import {
  activateCredentialCommand,
  createCommand,
  createPrimaryCommand,
  loadCommand,
  quoteCommand,
  readPublicCommand,
} from "../src/commands/object.js";
import { pcrReadCommand } from "../src/commands/pcr.js";
import { policySecretCommand, startAuthSessionCommand } from "../src/commands/session.js";
import type { TpmCommand } from "../src/commands/types.js";
import { decodeResponse, encodeCommand, parseTransportSpec, TpmError } from "../src/index.js";
import { akTemplate, ekTemplate } from "../src/templates.js";
import { trimDerPadding } from "../src/wire/der.js";
import { decodeParameters } from "../src/wire/response.js";
import { normalizeSelection, readPcrSelection, writePcrSelection } from "../src/wire/structures.js";

function response(tag: number, rc: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  return new ByteWriter()
    .u16(tag)
    .u32(10 + body.length)
    .u32(rc)
    .bytes(body)
    .finish();
}

const isTpmError = (code?: string) => (e: unknown) => e instanceof TpmError && (code === undefined || e.code === code);

describe("encodeCommand", () => {
  test("TPM2_Startup(TPM_SU_CLEAR) is the well-known 12 bytes", () => {
    const bytes = encodeCommand({ code: 0x144, handles: [], sessions: [], parameters: fromHex("0000") });
    assert.equal(toHex(bytes), "80010000000c000001440000");
  });

  test("a command with a password session carries TPM_ST_SESSIONS and an authorization area", () => {
    const bytes = encodeCommand({
      code: 0x182,
      handles: [23],
      sessions: [{ sessionHandle: TPM_RH.PW, nonce: new Uint8Array(0), attributes: 1, hmac: new Uint8Array(0) }],
      parameters: fromHex("00000000"),
    });
    // tag, size, PCR_Extend, handle 23, authorizationSize 9, TPM_RS_PW, nonce 0, attrs 1, hmac 0, params.
    assert.equal(toHex(bytes), `8002${"0000001f"}00000182${"00000017"}00000009400000090000010000${"00000000"}`);
  });
});

describe("decodeResponse", () => {
  const noSessions = { command: "TPM2_Test", handleCount: 0, sessionCount: 0 };
  const withSession = { command: "TPM2_Test", handleCount: 1, sessionCount: 1 };

  test("splits handles, parameters and authorization responses", () => {
    const body = new ByteWriter()
      .u32(0x80000001) // handle
      .u32(3) // parameterSize
      .bytes(fromHex("aabbcc"))
      .u16(0) // nonce
      .u8(1) // attributes
      .u16(0) // hmac
      .finish();
    const decoded = decodeResponse(response(0x8002, 0, body), withSession);
    assert.deepEqual(decoded.handles, [0x80000001]);
    assert.equal(toHex(decoded.parameters), "aabbcc");
    assert.equal(decoded.sessions.length, 1);
    assert.equal(decoded.sessions[0]!.attributes, 1);
    assert.equal(toHex(decodeResponse(response(0x8001, 0, fromHex("0102")), noSessions).parameters), "0102");
  });

  test("a non-zero response code becomes a TpmError named after it", () => {
    assert.throws(() => decodeResponse(response(0x8001, 0x18b), noSessions), isTpmError("TPM_RC_HANDLE"));
    assert.throws(() => decodeResponse(response(0x00c4, 0x01e), noSessions), isTpmError("TPM_RC_BAD_TAG"));
  });

  test("rejects every framing error with bad-response", () => {
    const ok = response(0x8001, 0, fromHex("0102"));
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      ok.subarray(0, 9),
      new Uint8Array([...ok, 0]), // a byte beyond responseSize
      (() => {
        const b = ok.slice();
        b[5] = 11; // responseSize one less than the bytes
        return b;
      })(),
      response(0x8002, 0, fromHex("0102")), // sessions tag on a command sent without sessions
      response(0x1234, 0), // unknown tag
      response(0x8002, 0x18b), // an error response must not carry TPM_ST_SESSIONS
      response(0x8001, 0x18b, fromHex("00")), // an error response is the header alone
    ];
    for (const bytes of cases) assert.throws(() => decodeResponse(bytes, noSessions), isTpmError("bad-response"));
    const body = new ByteWriter().u32(0x80000001).u32(0).u16(0).u8(1).u16(0).u8(0xee).finish();
    assert.throws(() => decodeResponse(response(0x8002, 0, body), withSession), isTpmError("bad-response"));
    const missingAuth = new ByteWriter().u32(0x80000001).u32(0).finish();
    assert.throws(() => decodeResponse(response(0x8002, 0, missingAuth), withSession), isTpmError("bad-response"));
    const parameterSizeTooBig = new ByteWriter().u32(0x80000001).u32(99).finish();
    assert.throws(
      () => decodeResponse(response(0x8002, 0, parameterSizeTooBig), withSession),
      isTpmError("bad-response"),
    );
  });

  test("property: random bytes yield a decoded response or a TpmError, nothing else", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.nat({ max: 2 }),
        fc.nat({ max: 2 }),
        (bytes, handleCount, sessionCount) => {
          try {
            decodeResponse(bytes, { command: "TPM2_Fuzz", handleCount, sessionCount });
          } catch (e) {
            assert.ok(e instanceof TpmError, String(e));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("property: mutated valid responses yield only TpmError or an exact decode", () => {
    const valid = response(
      0x8002,
      0,
      new ByteWriter()
        .u32(0x80000001)
        .u32(4)
        .bytes(fromHex("01020304"))
        .u16(2)
        .bytes(fromHex("abcd"))
        .u8(1)
        .u16(0)
        .finish(),
    );
    const shape = { command: "TPM2_Fuzz", handleCount: 1, sessionCount: 1 };
    fc.assert(
      fc.property(
        fc.nat({ max: valid.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.nat({ max: valid.length }),
        (at, xor, cut) => {
          const mutated = valid.slice();
          mutated[at]! ^= xor;
          for (const bytes of [mutated, valid.subarray(0, cut), new Uint8Array([...valid, xor])]) {
            try {
              const d = decodeResponse(bytes, shape);
              assert.equal(d.handles.length, 1);
              assert.equal(d.sessions.length, 1);
            } catch (e) {
              assert.ok(e instanceof TpmError, String(e));
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("parameter decoders", () => {
  const sel = normalizeSelection({ sha1: [0, 1], sha256: [0, 1, 2, 3, 23] });
  const commands: TpmCommand<unknown>[] = [
    getRandomCommand(64),
    getPropertyCommand(0x12c),
    getHandlesCommand(0x81000000, 64),
    flushContextCommand(0x80000000),
    pcrReadCommand(sel),
    startAuthSessionCommand(1, new Uint8Array(32)),
    policySecretCommand(TPM_RH.ENDORSEMENT, 0x03000000),
    nvReadPublicCommand(0x01c00002),
    nvReadCommand(0x01c00002, 0x01c00002, 100, 0),
    createPrimaryCommand(TPM_RH.ENDORSEMENT, ekTemplate("rsa2048")),
    createCommand(0x80000000, akTemplate("ecc-p256")),
    loadCommand(0x80000000, fromHex("0002abcd"), new ByteWriter().tpm2b(akTemplate("ecc-p256")).finish()),
    readPublicCommand(0x81010001),
    quoteCommand(0x80000001, new Uint8Array(32), sel),
    activateCredentialCommand(0x80000001, 0x80000000, new Uint8Array(10), new Uint8Array(10)),
  ];

  test("property: random parameter bytes yield a value or a bad-response TpmError, for every command", () => {
    fc.assert(
      fc.property(fc.constantFrom(...commands), fc.uint8Array({ maxLength: 200 }), fc.nat(), (cmd, bytes, handle) => {
        try {
          decodeParameters(cmd.name, bytes, (r) => cmd.parse([handle >>> 0], r));
        } catch (e) {
          assert.ok(e instanceof TpmError && e.code === "bad-response", String(e));
          assert.ok(e.cause instanceof MalformedError);
        }
      }),
      { numRuns: 4000 },
    );
  });

  test("property: PCR selections round-trip through TPML_PCR_SELECTION", () => {
    const banks: HashAlg[] = ["sha1", "sha256", "sha384", "sha512"];
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...banks), fc.array(fc.nat({ max: 255 }), { maxLength: 30 })),
        (selection) => {
          const normalized = normalizeSelection(selection);
          const w = new ByteWriter();
          writePcrSelection(w, normalized);
          const r = new ByteReader(w.finish(), "sel");
          const decoded = readPcrSelection(r, "pcrSelection");
          r.end();
          assert.deepEqual(
            decoded.map((s) => [s.bank, s.pcrs]),
            [...normalized].map(([bank, pcrs]) => [bank, [...pcrs]]),
          );
        },
      ),
    );
  });

  test("a quote whose attest lacks TPM_GENERATED_VALUE or whose signature has trailing bytes is refused", () => {
    const cmd = quoteCommand(0x80000001, new Uint8Array(0), sel);
    const sig = fromHex("0018000b00020102000203 04".replace(/ /g, ""));
    const attest = (magic: string) => new ByteWriter().tpm2b(fromHex(`${magic}8018`)).finish();
    const good = new Uint8Array([...attest("ff544347"), ...sig]);
    const decoded = decodeParameters(cmd.name, good, (r) => cmd.parse([], r));
    assert.equal(toHex(decoded.signature), toHex(sig));
    for (const bad of [
      new Uint8Array([...attest("ff544348"), ...sig]),
      new Uint8Array([...good, 0]),
      new Uint8Array([...attest("ff544347"), 0x00, 0x99]), // unknown sigAlg
    ]) {
      assert.throws(() => decodeParameters(cmd.name, bad, (r) => cmd.parse([], r)), isTpmError("bad-response"));
    }
  });

  test("a ReadPublic answer whose Name does not match its public area is refused", () => {
    const cmd = readPublicCommand(0x81000001);
    const tpmt = akTemplate("ecc-p256");
    const forgedName = new Uint8Array(34);
    forgedName[1] = 0x0b;
    const bytes = new ByteWriter().tpm2b(tpmt).tpm2b(forgedName).tpm2b(forgedName).finish();
    assert.throws(() => decodeParameters(cmd.name, bytes, (r) => cmd.parse([], r)), isTpmError("bad-response"));
  });
});

describe("trimDerPadding", () => {
  const cert = fromHex(`3082010a${"00".repeat(0x10a)}`);

  test("removes 0x00 or 0xff padding, keeps the certificate", () => {
    assert.deepEqual(trimDerPadding(cert, "c"), cert);
    assert.deepEqual(trimDerPadding(new Uint8Array([...cert, 0, 0, 0]), "c"), cert);
    assert.deepEqual(trimDerPadding(new Uint8Array([...cert, 0xff, 0xff]), "c"), cert);
    assert.deepEqual(trimDerPadding(fromHex("3003020101"), "c"), fromHex("3003020101"));
  });

  test("rejects non-padding trailers, indefinite or non-minimal lengths, truncation", () => {
    for (const bad of [
      new Uint8Array([...cert, 1]),
      new Uint8Array([...cert, 0, 0xff]),
      fromHex("308000"),
      fromHex("30810301 0101".replace(/ /g, "")),
      cert.subarray(0, 100),
      fromHex("3103020101"),
    ]) {
      assert.throws(() => trimDerPadding(bad, "c"), MalformedError);
    }
  });

  test("property: random bytes yield a prefix of the input or a MalformedError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const out = trimDerPadding(bytes, "c");
          assert.deepEqual(out, bytes.subarray(0, out.length));
        } catch (e) {
          assert.ok(e instanceof MalformedError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("parseTransportSpec", () => {
  test("accepts the swtpm TCTI syntax, unix sockets and devices", () => {
    assert.deepEqual(parseTransportSpec("swtpm:host=127.0.0.1,port=2321"), {
      kind: "tcp",
      host: "127.0.0.1",
      port: 2321,
    });
    assert.deepEqual(parseTransportSpec("swtpm:port=4000"), { kind: "tcp", host: "127.0.0.1", port: 4000 });
    assert.deepEqual(parseTransportSpec("tcp:localhost:2321"), { kind: "tcp", host: "localhost", port: 2321 });
    assert.deepEqual(parseTransportSpec("unix:/run/tpm.sock"), { kind: "unix", path: "/run/tpm.sock" });
    assert.deepEqual(parseTransportSpec("device:"), { kind: "device", path: "/dev/tpmrm0" });
    assert.deepEqual(parseTransportSpec("/dev/tpm0"), { kind: "device", path: "/dev/tpm0" });
  });

  test("rejects anything else with bad-argument", () => {
    for (const bad of [
      "",
      "swtpm",
      "mssim:port=2321",
      "swtpm:port=0",
      "swtpm:port=65536",
      "swtpm:port=x",
      "swtpm:foo=1",
      "unix:",
      "tcp:2321",
    ]) {
      assert.throws(() => parseTransportSpec(bad), isTpmError("bad-argument"), bad);
    }
  });
});
