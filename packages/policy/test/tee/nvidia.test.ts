import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fromHex, randomBytes, toHex } from "@veritee/core";
import { gpuNonceBinding, type VerifiedGpuRim, verifyGpuReport, verifyGpuRim } from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import {
  defaultGpuReportFields,
  defaultOpaque,
  forgeGpuReport,
  makeGpuDeviceChain,
  opaqueText,
  testMeasurement,
  vbiosVersionField,
} from "@veritee/testkit/nvidia";
import { forgeGpuRim, makeRimSigner } from "@veritee/testkit/nvidia-rim";
import { PolicyError } from "../../src/errors.js";
import { evaluateNvidia, nvidiaClaims, parseNvidiaRules } from "../../src/tee/nvidia.js";

const device = makeGpuDeviceChain();
const AT = new Date("2025-01-01T00:00:00Z");
const session = { clientNonce: randomBytes(32), keySetDigest: randomBytes(32) };

async function verified(overrides: Parameters<typeof forgeGpuReport>[1] = {}, withSession = true) {
  const nonce = withSession ? gpuNonceBinding(session) : randomBytes(32);
  const report = forgeGpuReport(device, { nonce, ...overrides });
  return verifyGpuReport({
    report,
    certChain: device.chain,
    ...(withSession ? { session } : { expectedNonce: nonce }),
    at: AT,
    roots: [device.root.cert],
  });
}

const ALL_MEASUREMENTS = Object.fromEntries(
  Array.from({ length: 12 }, (_, i) => [String(i + 1), toHex(testMeasurement(i + 1))]),
);
const STRICT = {
  measurements: ALL_MEASUREMENTS,
  driverVersion: { allowed: ["550.90.07"] },
  vbiosVersion: { minimum: "96.00.74.00.01" },
  nonceBinding: "bound",
  ppcieMode: "off",
};

function failsWith(f: () => unknown, code: string, path: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof PolicyError);
    assert.equal(e.code, code);
    assert.equal(e.claim?.path, path);
    return true;
  });
}

describe("NVIDIA policy section: parsing", () => {
  it("accepts the documented shapes", () => {
    const rules = parseNvidiaRules(STRICT);
    assert.ok(rules.measurements instanceof Map && rules.measurements.size === 12);
    assert.deepEqual(rules.vbiosVersion, { minimum: "96.00.74.00.01" });
    const loose = parseNvidiaRules({
      measurements: "from-rim",
      driverVersion: "any",
      vbiosVersion: { allowed: ["96.00.9F.00.01"] },
      nonceBinding: "any",
      ppcieMode: "any",
    });
    assert.equal(loose.measurements, "from-rim");
  });

  it("refuses anything else, naming the member", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...STRICT, extra: 1 }, "nvidia.extra"],
      [{ ...STRICT, measurements: undefined }, "nvidia.measurements"],
      [{ ...STRICT, measurements: {} }, "nvidia.measurements"],
      [{ ...STRICT, measurements: { "0": "any" } }, 'nvidia.measurements["0"]'],
      [{ ...STRICT, measurements: { "01": "any" } }, 'nvidia.measurements["01"]'],
      [{ ...STRICT, measurements: { "1": "AB".repeat(48) } }, 'nvidia.measurements["1"]'],
      [{ ...STRICT, measurements: { "1": [] } }, 'nvidia.measurements["1"]'],
      [{ ...STRICT, driverVersion: { allowed: ["550.90"], minimum: "1.0" } }, "nvidia.driverVersion"],
      [{ ...STRICT, driverVersion: { allowed: ["x"] } }, "nvidia.driverVersion.allowed[0]"],
      [{ ...STRICT, vbiosVersion: { minimum: "96.00.9f.00.01" } }, "nvidia.vbiosVersion.minimum"],
      [{ ...STRICT, nonceBinding: true }, "nvidia.nonceBinding"],
      [{ ...STRICT, ppcieMode: "enabled" }, "nvidia.ppcieMode"],
    ];
    for (const [value, path] of cases) {
      const v = Object.fromEntries(Object.entries(value).filter(([, x]) => x !== undefined));
      assert.throws(
        () => parseNvidiaRules(v),
        (e: unknown) => e instanceof PolicyError && e.code === "invalid-policy" && e.path === path,
        path,
      );
    }
  });
});

describe("NVIDIA policy section: evaluation", () => {
  it("a matching report passes every claim", async () => {
    const appraisal = evaluateNvidia(parseNvidiaRules(STRICT), await verified(), { session });
    assert.equal(appraisal.verdict, "pass");
    assert.equal(appraisal.claims.length, 12 + 4);
  });

  it("each rule has a one-field negative", async () => {
    const rules = parseNvidiaRules(STRICT);
    const blocks = defaultGpuReportFields().blocks;
    blocks[4] = { index: 5, value: testMeasurement(99) };
    const v1 = await verified({ blocks });
    failsWith(() => evaluateNvidia(rules, v1, { session }), "measurement-mismatch", 'nvidia.measurements["5"]');
    const v1b = await verified({
      blocks: [...defaultGpuReportFields().blocks, { index: 13, value: testMeasurement(13) }],
    });
    failsWith(() => evaluateNvidia(rules, v1b, { session }), "measurement-unexpected", 'nvidia.measurements["13"]');
    const v1c = await verified({ blocks: defaultGpuReportFields().blocks.slice(0, 11) });
    failsWith(() => evaluateNvidia(rules, v1c, { session }), "measurement-missing", 'nvidia.measurements["12"]');
    const withOpaque = (type: number, value: Uint8Array) =>
      verified({ opaque: defaultOpaque().map((f) => (f.type === type ? { type, value } : f)) });
    const v2 = await withOpaque(3, opaqueText("550.90.08"));
    failsWith(() => evaluateNvidia(rules, v2, { session }), "measurement-mismatch", "nvidia.driverVersion");
    const v3 = await withOpaque(6, vbiosVersionField("96.00.73.00.01"));
    failsWith(() => evaluateNvidia(rules, v3, { session }), "tcb-too-old", "nvidia.vbiosVersion");
    const v4 = await withOpaque(21, Uint8Array.of(0xaa));
    failsWith(() => evaluateNvidia(rules, v4, { session }), "tee-attribute-not-allowed", "nvidia.ppcieMode");
    const v5 = await verified({ opaque: defaultOpaque().filter((f) => f.type !== 3) });
    failsWith(() => evaluateNvidia(rules, v5, { session }), "measurement-missing", "nvidia.driverVersion");
    // Nonce binding: a raw nonce, another session, no session given.
    const raw = await verified({}, false);
    failsWith(() => evaluateNvidia(rules, raw, { session }), "report-data-mismatch", "nvidia.nonceBinding");
    const good = await verified();
    const other = { ...session, clientNonce: randomBytes(32) };
    failsWith(() => evaluateNvidia(rules, good, { session: other }), "report-data-mismatch", "nvidia.nonceBinding");
    failsWith(() => evaluateNvidia(rules, good), "report-data-mismatch", "nvidia.nonceBinding");
  });
  it("a failing appraisal lists every claim", async () => {
    const rules = parseNvidiaRules({ ...STRICT, ppcieMode: "on" });
    try {
      evaluateNvidia(rules, await verified(), { session });
      assert.fail("should fail");
    } catch (e) {
      assert.ok(e instanceof PolicyError && e.appraisal);
      assert.equal(e.appraisal.verdict, "fail");
      assert.equal(e.appraisal.claims.filter((c) => !c.ok).length, 1);
    }
  });

  it("refuses look-alike evidence", () => {
    assert.throws(() => nvidiaClaims(parseNvidiaRules(STRICT), {} as never), TypeError);
  });
});

describe("NVIDIA policy section: reference values from RIMs", () => {
  // Signed under a test root and verified, as policy takes only verified RIMs; keys are SPDM block indices.
  const signer = makeRimSigner();
  const rimFor = (version: string, values: Map<number, string[]>): Promise<VerifiedGpuRim> =>
    verifyGpuRim({
      xml: forgeGpuRim(signer, { version, measurements: new Map([...values].map(([i, v]) => [i - 1, v])) }),
      at: AT,
      roots: [signer.root.cert],
    });
  const FROM_RIM = { ...STRICT, measurements: "from-rim", nonceBinding: "any" };

  it("passes when the driver and VBIOS RIMs cover the report", async () => {
    const driver = await rimFor(
      "550.90.07",
      new Map([
        [1, [toHex(testMeasurement(1))]],
        [2, ["00".repeat(48), toHex(testMeasurement(2))]],
      ]),
    );
    const vbios = await rimFor("96.00.9F.00.01", new Map([[3, [toHex(testMeasurement(3))]]]));
    const appraisal = evaluateNvidia(parseNvidiaRules(FROM_RIM), await verified(), { rims: [driver, vbios] });
    assert.equal(appraisal.verdict, "pass");
  });

  it("fails on a value, a version, a missing block, an index two RIMs claim, no RIM", async () => {
    const rules = parseNvidiaRules(FROM_RIM);
    const v = await verified();
    const vbios = await rimFor("96.00.9F.00.01", new Map([[3, [toHex(testMeasurement(3))]]]));
    const wrong = await rimFor("550.90.07", new Map([[1, ["11".repeat(48)]]]));
    failsWith(
      () => evaluateNvidia(rules, v, { rims: [wrong, vbios] }),
      "measurement-mismatch",
      'nvidia.measurements["1"]',
    );
    const oldVersion = await rimFor("550.54.14", new Map([[1, [toHex(testMeasurement(1))]]]));
    failsWith(
      () => evaluateNvidia(rules, v, { rims: [oldVersion, vbios] }),
      "measurement-mismatch",
      "nvidia.measurements.rim[0]",
    );
    const missing = await rimFor("550.90.07", new Map([[40, ["11".repeat(48)]]]));
    failsWith(() => evaluateNvidia(rules, v, { rims: [missing] }), "measurement-missing", 'nvidia.measurements["40"]');
    const twice = await rimFor("550.90.07", new Map([[3, [toHex(testMeasurement(3))]]]));
    failsWith(
      () => evaluateNvidia(rules, v, { rims: [twice, vbios] }),
      "measurement-mismatch",
      'nvidia.measurements["3"]',
    );
    failsWith(() => evaluateNvidia(rules, v), "measurement-missing", "nvidia.measurements");
  });

  it("takes reference values only from verified RIMs", async () => {
    const rules = parseNvidiaRules(FROM_RIM);
    const v = await verified();
    const vbios = await rimFor("96.00.9F.00.01", new Map([[3, [toHex(testMeasurement(3))]]]));
    const lookalike = { rim: vbios.rim, signer: vbios.signer, verifiedAt: vbios.verifiedAt } as VerifiedGpuRim;
    assert.throws(() => evaluateNvidia(rules, v, { rims: [lookalike] }), TypeError);
  });

  it("the real Hopper capture against NVIDIA's VBIOS RIM: another VBIOS version, and its changed blocks", async () => {
    const dir = (n: string) => sharedPath("vectors", "nvidia", n);
    const report = fromHex(readFileSync(dir("hopperAttestationReport.txt"), "utf8").trim());
    const real = await verifyGpuReport({
      report,
      certChain: readFileSync(dir("hopperCertChain.txt"), "utf8"),
      expectedNonce: report.slice(4, 36),
      at: AT,
    });
    const rim = await verifyGpuRim({ xml: readFileSync(dir("1010_0200_882_96005E0001_PROD.swidtag"), "utf8"), at: AT });
    const rules = parseNvidiaRules({ ...FROM_RIM, driverVersion: { allowed: ["550.90.07"] }, vbiosVersion: "any" });
    const claims = nvidiaClaims(rules, real, { rims: [rim] });
    const failed = claims.filter((c) => !c.ok).map((c) => c.path);
    assert.deepEqual(failed, [
      "nvidia.measurements.rim[0]",
      'nvidia.measurements["2"]',
      'nvidia.measurements["3"]',
      'nvidia.measurements["10"]',
      'nvidia.measurements["12"]',
    ]);
    // The version fails, the product does not: NVIDIA's RIM is for GH100 and so is the capture's GPU.
    const product = claims.find((c) => c.name === "GPU RIM 0 product")!;
    assert.deepEqual([product.expected, product.actual, product.ok], ["GH100", "GH100", true]);
  });
});

describe("NVIDIA policy section: a RIM's product must be the GPU's chip", () => {
  const signer = makeRimSigner();
  const dir = (n: string) => sharedPath("vectors", "nvidia", n);
  const FROM_RIM = { ...STRICT, measurements: "from-rim", nonceBinding: "any" };
  const rimOf = (product: string | undefined, version = "550.90.07") =>
    verifyGpuRim({
      xml: forgeGpuRim(signer, {
        version,
        ...(product === undefined ? {} : { product }),
        measurements: new Map([[0, [toHex(testMeasurement(1))]]]),
      }),
      at: AT,
      roots: [signer.root.cert],
    });

  it("both real RIMs name GH100, the chip of the real capture's device certificate", async () => {
    const report = fromHex(readFileSync(dir("hopperAttestationReport.txt"), "utf8").trim());
    const real = await verifyGpuReport({
      report,
      certChain: readFileSync(dir("hopperCertChain.txt"), "utf8"),
      expectedNonce: report.slice(4, 36),
      at: AT,
    });
    assert.equal(real.chip, "GH100");
    const rims = await Promise.all(
      ["1010_0200_882_96005E0001_PROD.swidtag", "g520_0200_885_9600740001_PROD.swidtag"].map((n) =>
        verifyGpuRim({ xml: readFileSync(dir(n), "utf8"), at: AT }),
      ),
    );
    const rules = parseNvidiaRules({ ...FROM_RIM, driverVersion: "any", vbiosVersion: "any" });
    const products = nvidiaClaims(rules, real, { rims }).filter((c) => c.name.endsWith(" product"));
    assert.deepEqual(
      products.map((c) => [c.path, c.expected, c.actual, c.ok]),
      [
        ["nvidia.measurements.rim[0]", "GH100", "GH100", true],
        ["nvidia.measurements.rim[1]", "GH100", "GH100", true],
      ],
    );
  });

  it("a RIM for another chip is product-mismatch, named, before its version", async () => {
    const rules = parseNvidiaRules(FROM_RIM);
    const v = await verified();
    assert.equal(v.chip, "GH100");
    assert.equal(evaluateNvidia(rules, v, { rims: [await rimOf("GH100")] }).verdict, "pass");
    const blackwell = await rimOf("GB100");
    failsWith(() => evaluateNvidia(rules, v, { rims: [blackwell] }), "product-mismatch", "nvidia.measurements.rim[0]");
    assert.throws(
      () => evaluateNvidia(rules, v, { rims: [blackwell] }),
      (e: unknown) => e instanceof PolicyError && e.claim?.name === "GPU RIM 0 product" && /GB100/.test(e.message),
    );
    // The product claim comes first: a RIM for another chip fails as that, whatever its version.
    const oldBlackwell = await rimOf("GB100", "535.1.1");
    failsWith(
      () => evaluateNvidia(rules, v, { rims: [oldBlackwell] }),
      "product-mismatch",
      "nvidia.measurements.rim[0]",
    );
    // Case and spelling count: the RIM names the product exactly.
    const lowerCase = await rimOf("gh100");
    failsWith(() => evaluateNvidia(rules, v, { rims: [lowerCase] }), "product-mismatch", "nvidia.measurements.rim[0]");
  });

  it("a GPU whose device certificate names no chip matches no RIM", async () => {
    const anonymous = makeGpuDeviceChain({ deviceName: "Test GPU device" });
    const nonce = randomBytes(32);
    const v = await verifyGpuReport({
      report: forgeGpuReport(anonymous, { nonce }),
      certChain: anonymous.chain,
      expectedNonce: nonce,
      at: AT,
      roots: [anonymous.root.cert],
    });
    assert.equal(v.chip, undefined);
    const rules = parseNvidiaRules(FROM_RIM);
    const hopper = await rimOf("GH100");
    failsWith(() => evaluateNvidia(rules, v, { rims: [hopper] }), "product-mismatch", "nvidia.measurements.rim[0]");
  });
});
