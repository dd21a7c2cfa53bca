/**
 * Core's one PEM decoder (RFC 7468, the accepted form is described in
 * src/pem.ts): round trips, only MalformedError from any input, and every
 * leniency one of the old per-package decoders had is now refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  decodePem,
  decodePemBlock,
  encodePem,
  looksLikePem,
  MalformedError,
  type PemDecodeOptions,
} from "../src/index.js";

const CERT: PemDecodeOptions = { label: "CERTIFICATE", what: "chain", maxBlocks: 4, maxBytes: 4096 };
const block = (der: Uint8Array, label = "CERTIFICATE"): string => encodePem(label, der);
const der1 = Uint8Array.from({ length: 100 }, (_, i) => i);
const der2 = Uint8Array.from({ length: 50 }, (_, i) => 255 - i);

function refused(text: string | Uint8Array, code?: MalformedError["code"], options = CERT): void {
  assert.throws(
    () => decodePem(text, options),
    (e: unknown) => e instanceof MalformedError && (code === undefined || e.code === code),
    typeof text === "string" ? JSON.stringify(text.slice(0, 60)) : "bytes",
  );
}

test("PEM round trips any non-empty blocks, as text and as bytes, LF or CRLF", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      (ders, crlf) => {
        let text = ders.map((d) => block(d)).join("\n");
        if (crlf) text = text.replace(/\n/g, "\r\n");
        assert.deepEqual(decodePem(text, CERT), ders);
        assert.deepEqual(decodePem(new TextEncoder().encode(text), CERT), ders);
      },
    ),
  );
});

test("PEM: random text and random mutations of a valid chain give blocks or MalformedError only", () => {
  const valid = block(der1) + block(der2);
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (text) => {
      try {
        decodePem(text, CERT);
      } catch (e) {
        assert.ok(e instanceof MalformedError, String(e));
      }
    }),
  );
  fc.assert(
    fc.property(fc.nat(valid.length - 1), fc.string({ minLength: 0, maxLength: 3 }), (at, insert) => {
      const text = valid.slice(0, at) + insert + valid.slice(at + 1);
      try {
        decodePem(text, CERT);
      } catch (e) {
        assert.ok(e instanceof MalformedError, String(e));
      }
    }),
  );
});

test("whitespace around and between blocks and at line ends is accepted", () => {
  const text = `\n  ${block(der1).replace(/\n/g, " \t\n")}\n\n\t${block(der2)}  \n`;
  assert.deepEqual(decodePem(text, CERT), [der1, der2]);
  // 76-character lines (the MIME width) are accepted too.
  const b64 = Buffer.from(new Uint8Array(120).fill(7)).toString("base64");
  const wide = `-----BEGIN CERTIFICATE-----\n${b64.slice(0, 76)}\n${b64.slice(76, 152)}\n${b64.slice(152)}\n-----END CERTIFICATE-----\n`;
  assert.deepEqual(decodePem(wide, CERT), [new Uint8Array(120).fill(7)]);
});

test("junk between or around blocks is refused (serve.ts's old decoder skipped it)", () => {
  refused(`${block(der1)}junk\n${block(der2)}`, "bad-value");
  refused(`subject=CN=x\n${block(der1)}`, "bad-value");
  refused(`${block(der1)}# trailing note\n`, "bad-value");
  refused(`${block(der1)}-----END CERTIFICATE-----\n`, "bad-value");
});

test("a mismatched END label or another BEGIN label is refused", () => {
  refused(block(der1).replace("END CERTIFICATE", "END X509 CRL"), "bad-magic");
  refused(block(der1, "PUBLIC KEY"), "bad-magic");
  refused(block(der1).replace("BEGIN CERTIFICATE", "BEGIN  CERTIFICATE"), "bad-magic");
  refused(block(der1).replace("-----END CERTIFICATE-----\n", ""));
  refused(block(der1).replace("\n-----END CERTIFICATE-----\n", ""), "truncated");
});

test("whitespace inside a line, over-long lines and non-canonical base64 are refused", () => {
  const lines = block(der1).split("\n");
  const spaced = [...lines];
  spaced[1] = `${spaced[1]!.slice(0, 10)} ${spaced[1]!.slice(10)}`;
  refused(spaced.join("\n"), "bad-value");
  const b64 = Buffer.from(new Uint8Array(120)).toString("base64");
  refused(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`, "bad-value");
  // Non-zero pad bits: Buffer's decoder (used by tdx/pem.ts, x509/crl.ts, serve.ts) took these.
  refused("-----BEGIN CERTIFICATE-----\nQR==\n-----END CERTIFICATE-----\n", "bad-value");
  refused("-----BEGIN CERTIFICATE-----\nQUI\n-----END CERTIFICATE-----\n", "bad-value");
  refused("-----BEGIN CERTIFICATE-----\nQQ==\nQQ==\n-----END CERTIFICATE-----\n", "bad-value");
  refused("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", "bad-length");
  refused("-----BEGIN CERTIFICATE-----\nAA==\n\n-----END CERTIFICATE-----\n", "bad-value");
});

test("block count limits, empty input and exactly-one", () => {
  refused("", "bad-length");
  refused(" \n\t\n", "bad-length");
  refused(Array.from({ length: 5 }, () => block(der1)).join(""), "too-large");
  assert.deepEqual(decodePemBlock(block(der1), CERT), der1);
  assert.throws(
    () => decodePemBlock(block(der1) + block(der2), CERT),
    (e: unknown) => e instanceof MalformedError && e.code === "too-large",
  );
  refused(block(new Uint8Array(5000)), "too-large");
});

test("a trailing NUL only with allowTrailingNul, and only one", () => {
  const bytes = new TextEncoder().encode(`${block(der1)}\0`);
  refused(bytes, "bad-value");
  assert.deepEqual(decodePem(bytes, { ...CERT, allowTrailingNul: true }), [der1]);
  refused(new TextEncoder().encode(`${block(der1)}\0\0`), "bad-value", { ...CERT, allowTrailingNul: true });
  refused(new TextEncoder().encode(`${block(der1)}\0${block(der2)}`), "bad-value", {
    ...CERT,
    allowTrailingNul: true,
  });
});

test("non-ASCII and control characters are refused", () => {
  refused(`${block(der1)}é`, "bad-value");
  refused(`\u0007${block(der1)}`, "bad-value");
  refused(Uint8Array.of(0xff, ...new TextEncoder().encode(block(der1))), "bad-value");
});

test("looksLikePem tells PEM from DER", () => {
  assert.equal(looksLikePem(block(der1)), true);
  assert.equal(looksLikePem(new TextEncoder().encode(`\n${block(der1)}`)), true);
  assert.equal(looksLikePem(Uint8Array.of(0x30, 0x82, 0x01, 0x00)), false);
  assert.equal(looksLikePem("-----BEGIN"), false);
});
