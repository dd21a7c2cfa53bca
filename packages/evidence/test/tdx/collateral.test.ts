import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedError } from "@veritee/core";
import fc from "fast-check";
import { decodeTdxQeIdentity, decodeTdxTcbInfo } from "../../src/tdx/collateral.js";
import { tdxVector } from "./vectors.js";

const TCB_INFO = new TextDecoder().decode(tdxVector("sample_tcbInfo_response"));
const QE_IDENTITY = new TextDecoder().decode(tdxVector("sample_qeIdentity_response"));

function only(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
  }
}
/** Re-sign-free edit of the inner JSON (the decoder checks structure before any signature). */
function edit(text: string, member: string, change: (o: Record<string, unknown>) => void): string {
  const doc = JSON.parse(text);
  change(doc[member]);
  return `{"${member}":${JSON.stringify(doc[member])},"signature":"${doc.signature}"}`;
}
function malformed(text: string, decode: (t: string) => unknown): void {
  assert.throws(
    () => decode(text),
    (e: unknown) => e instanceof MalformedError,
  );
}

describe("TDX TCB info", () => {
  it("decodes the sample response", () => {
    const t = decodeTdxTcbInfo(TCB_INFO);
    assert.equal(t.fmspc, "50806f000000");
    assert.equal(t.pceId, "0000");
    assert.equal(t.tcbEvaluationDataNumber, 15);
    assert.equal(t.tcbLevels.length, 2);
    assert.equal(t.tcbLevels[0]!.tcbStatus, "UpToDate");
    assert.deepEqual(t.tcbLevels[0]!.tdxTcbComponents.slice(0, 3), [3, 0, 5]);
    assert.equal(t.tcbLevels[1]!.advisoryIds.length, 13);
    assert.equal(t.issueDate.toISOString(), "2023-06-18T08:42:58.000Z");
  });
  it("refuses unknown ids, versions, members, statuses, unsorted levels, bad dates and re-formatting", () => {
    const d = decodeTdxTcbInfo;
    malformed(
      edit(TCB_INFO, "tcbInfo", (o) => (o.id = "SGX")),
      d,
    );
    malformed(
      edit(TCB_INFO, "tcbInfo", (o) => (o.version = 2)),
      d,
    );
    malformed(
      edit(TCB_INFO, "tcbInfo", (o) => (o.extra = 1)),
      d,
    );
    malformed(
      edit(TCB_INFO, "tcbInfo", (o) => delete o.fmspc),
      d,
    );
    malformed(
      edit(TCB_INFO, "tcbInfo", (o) => (o.fmspc = "50806f")),
      d,
    );
    malformed(
      edit(TCB_INFO, "tcbInfo", (o) => (o.issueDate = "2023-02-30T00:00:00Z")),
      d,
    );
    malformed(
      edit(TCB_INFO, "tcbInfo", (o) => ((o.tcbLevels as { tcbStatus: string }[])[0]!.tcbStatus = "Fine")),
      d,
    );
    malformed(
      edit(TCB_INFO, "tcbInfo", (o) => (o.tcbLevels as unknown[]).reverse()),
      d,
    );
    malformed(TCB_INFO.replace('"version":3', '"version":3,"version":3'), d);
    malformed(TCB_INFO.replace('{"id"', '{ "id"'), d);
    malformed(TCB_INFO.replace('"signature":"', '"signature":"00'), d);
  });
  it("random text and single-byte mutations yield only MalformedError or a value", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => only(() => decodeTdxTcbInfo(s))),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: TCB_INFO.length - 1 }), fc.integer({ min: 1, max: 127 }), (i, x) => {
        const b = new TextEncoder().encode(TCB_INFO);
        b[i]! ^= x;
        only(() => decodeTdxTcbInfo(b));
      }),
      { numRuns: 500 },
    );
  });
});

describe("TD QE identity", () => {
  it("decodes the sample response", () => {
    const q = decodeTdxQeIdentity(QE_IDENTITY);
    assert.equal(q.isvProdId, 2);
    assert.equal(q.miscSelectMask, 0xffffffff);
    assert.equal(q.tcbLevels[0]!.isvSvn, 4);
    assert.equal(
      Buffer.from(q.mrSigner).toString("hex").toUpperCase(),
      "DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5",
    );
  });
  it("refuses another enclave's identity and malformed fields", () => {
    const d = decodeTdxQeIdentity;
    malformed(
      edit(QE_IDENTITY, "enclaveIdentity", (o) => (o.id = "QE")),
      d,
    );
    malformed(
      edit(QE_IDENTITY, "enclaveIdentity", (o) => (o.mrsigner = "00")),
      d,
    );
    malformed(
      edit(QE_IDENTITY, "enclaveIdentity", (o) => (o.isvprodid = -1)),
      d,
    );
    malformed(
      edit(QE_IDENTITY, "enclaveIdentity", (o) => (o.tcbLevels = [])),
      d,
    );
    malformed(TCB_INFO, d);
  });
  it("random text and mutations yield only MalformedError or a value", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: QE_IDENTITY.length - 1 }), fc.integer({ min: 1, max: 127 }), (i, x) => {
        const b = new TextEncoder().encode(QE_IDENTITY);
        b[i]! ^= x;
        only(() => decodeTdxQeIdentity(b));
      }),
      { numRuns: 500 },
    );
  });
});
