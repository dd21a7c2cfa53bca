import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  base64urlDecode,
  base64urlEncode,
  DER_TAG,
  DerReader,
  decodeOid,
  MalformedError,
  readNamedBits,
  readTime,
} from "@veritee/core";
import { ecKey, makeLeaf, makeRoot, oid, rsaKey, tlv } from "@veritee/testkit/x509";
import fc from "fast-check";
import { VerificationError } from "../../src/errors.js";
import { decodeCertificate, KEY_USAGE } from "../../src/x509/certificate.js";
import { verifyCertificateChain } from "../../src/x509/chain.js";
import { decodeCertificateSpki, publicKeyFromJwk, publicKeysEqual } from "../../src/x509/public-key.js";
import { GCE_AK_CERT, GCE_INTERMEDIATE_2, GCE_ROOT } from "./vectors.js";

const ROOT = GCE_ROOT;
const INTERMEDIATE_2 = GCE_INTERMEDIATE_2;

function malformed(fn: () => unknown, code?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MalformedError, `expected MalformedError, got ${String(e)}`);
    if (code) assert.equal(e.code, code);
    return true;
  });
}

describe("DER reader", () => {
  it("rejects indefinite, non-minimal, oversized and truncated lengths", async () => {
    malformed(() => new DerReader(Uint8Array.of(0x30, 0x80, 0, 0), "t").any("x"), "bad-length");
    malformed(() => new DerReader(Uint8Array.of(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), "t").any("x"), "bad-length");
    malformed(
      () => new DerReader(Uint8Array.of(0x04, 0x82, 0x00, 0x85, ...new Uint8Array(0x85)), "t").any("x"),
      "bad-length",
    );
    malformed(() => new DerReader(Uint8Array.of(0x04, 0x85, 1, 0, 0, 0, 0), "t").any("x"), "too-large");
    malformed(() => new DerReader(Uint8Array.of(0x04, 0x03, 1, 2), "t").any("x"), "truncated");
    malformed(() => new DerReader(Uint8Array.of(0x1f, 0x01, 0x00), "t").any("x"), "unsupported");
    const r = new DerReader(Uint8Array.of(0x05, 0x00, 0x05, 0x00), "t");
    r.any("first");
    malformed(() => r.end(), "trailing-data");
  });

  it("bounds nesting depth", async () => {
    let nested: Uint8Array = Uint8Array.of(0x05, 0x00);
    for (let i = 0; i < 40; i++) nested = tlv(0x30, nested);
    malformed(() => {
      let r = new DerReader(nested, "t");
      for (;;) r = r.sequence("s");
    }, "too-deep");
  });

  it("decodes OIDs and rejects non-minimal arcs", async () => {
    for (const o of ["2.5.29.19", "1.2.840.113549.1.1.11", "2.23.133.8.1", "0.9.2342", "2.999.1"]) {
      assert.equal(decodeOid(oid(o).slice(2), "oid"), o);
    }
    malformed(() => decodeOid(Uint8Array.of(0x2a, 0x80, 0x01), "oid"), "bad-value");
    malformed(() => decodeOid(Uint8Array.of(0x2a, 0x81), "oid"), "truncated");
    malformed(() => decodeOid(new Uint8Array(0), "oid"), "bad-length");
  });

  it("reads RFC 5280 times and rejects other forms", async () => {
    const t = (tag: number, s: string) =>
      readTime({ tag, content: new TextEncoder().encode(s), encoded: new Uint8Array(0) }, "t");
    assert.equal(t(DER_TAG.UTC_TIME, "491231235959Z").toISOString(), "2049-12-31T23:59:59.000Z");
    assert.equal(t(DER_TAG.UTC_TIME, "500101000000Z").toISOString(), "1950-01-01T00:00:00.000Z");
    assert.equal(t(DER_TAG.GENERALIZED_TIME, "99991231235959Z").toISOString(), "9999-12-31T23:59:59.000Z");
    malformed(() => t(DER_TAG.UTC_TIME, "2402301200Z"), "bad-length");
    malformed(() => t(DER_TAG.UTC_TIME, "240230120000Z"), "bad-value"); // 30 February
    malformed(() => t(DER_TAG.UTC_TIME, "240101120000+"), "bad-value");
    malformed(() => t(DER_TAG.GENERALIZED_TIME, "20240101120000.5Z"), "bad-length");
    malformed(() => t(DER_TAG.OCTET_STRING, "240101120000Z"), "bad-value");
  });

  it("reads keyUsage bits and rejects set unused bits", async () => {
    const el = (...c: number[]) => ({
      tag: DER_TAG.BIT_STRING,
      content: Uint8Array.of(...c),
      encoded: new Uint8Array(0),
    });
    assert.equal(readNamedBits(el(1, 0x06), "ku"), KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign);
    assert.equal(readNamedBits(el(7, 0x80, 0x80), "ku"), KEY_USAGE.digitalSignature | KEY_USAGE.decipherOnly);
    malformed(() => readNamedBits(el(2, 0x07), "ku"), "reserved-nonzero");
    malformed(() => readNamedBits(el(8, 0x00), "ku"), "bad-value");
  });
});

describe("public keys", () => {
  it("compares keys across SPKI and JWK encodings", async () => {
    for (const k of [ecKey("P-256"), ecKey("P-384"), rsaKey()]) {
      const spki = decodeCertificateSpki(new Uint8Array(k.publicKey.export({ format: "der", type: "spki" })));
      const jwk = publicKeyFromJwk(k.publicKey.export({ format: "jwk" }));
      assert.ok(publicKeysEqual(spki, jwk));
    }
  });

  it("base64url round-trips and rejects non-canonical text", async () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        assert.deepEqual(base64urlDecode(base64urlEncode(b), "b"), b);
      }),
    );
    malformed(() => base64urlDecode("AB==", "b"));
    malformed(() => base64urlDecode("AB", "b"), "bad-value"); // trailing bits set
    malformed(() => base64urlDecode("A", "b"), "bad-length");
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        try {
          base64urlDecode(s, "b");
        } catch (e) {
          assert.ok(e instanceof MalformedError);
        }
      }),
    );
  });
});

describe("certificate decoding (property tests)", () => {
  const root = makeRoot("Fuzz Root", rsaKey());
  const corpus = [GCE_AK_CERT, ROOT, INTERMEDIATE_2, root.cert, makeLeaf(root)];

  it("decodes the corpus", async () => {
    for (const c of corpus) decodeCertificate(c);
  });

  it("random bytes yield only MalformedError", async () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          decodeCertificate(bytes);
        } catch (e) {
          assert.ok(e instanceof MalformedError, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("random DER-looking bytes yield only MalformedError", async () => {
    const derish = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => tlv(0x30, tlv(0x30, b)));
    fc.assert(
      fc.property(derish, (bytes) => {
        try {
          decodeCertificate(bytes);
        } catch (e) {
          assert.ok(e instanceof MalformedError, String(e));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("mutated certificates yield only MalformedError or VerificationError", async () => {
    const mutation = fc.record({
      which: fc.nat({ max: corpus.length - 1 }),
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
      cut: fc.option(fc.nat(), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async ({ which, edits, cut }) => {
        let bytes = corpus[which]!.slice();
        for (const { at, value } of edits) bytes[at % bytes.length] = value;
        if (cut !== undefined) bytes = bytes.slice(0, cut % bytes.length);
        try {
          decodeCertificate(bytes);
          await verifyCertificateChain({
            leaf: bytes,
            intermediates: [INTERMEDIATE_2],
            roots: [ROOT, root.cert],
            at: new Date("2025-01-01T00:00:00Z"),
          });
        } catch (e) {
          assert.ok(e instanceof MalformedError || e instanceof VerificationError, String(e));
        }
      }),
      { numRuns: 400 },
    );
  });

  it("random SPKI bytes yield only MalformedError", async () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeCertificateSpki(tlv(0x30, bytes));
        } catch (e) {
          assert.ok(e instanceof MalformedError, String(e));
        }
      }),
      { numRuns: 1000 },
    );
  });
});
