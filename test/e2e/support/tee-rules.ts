/**
 * Policy sections for the platform-evidence tests: strict where the test
 * cares (debug off, the binding, the product), "any" elsewhere.
 */

/** SEV-SNP rules accepting a Milan guest with this measurement (or any, with "any"). */
export function snpRules(measurement: string) {
  return {
    measurement,
    hostData: "any",
    reportData: "bound",
    allowDebug: false,
    allowMigrationAgent: false,
    allowSmt: true,
    minimumTcb: "any",
    minimumGuestSvn: "any",
    familyId: "any",
    imageId: "any",
    vmpl: "any",
    idKeyDigest: "any",
    authorKeyDigest: "any",
    products: ["Milan"],
  };
}

/** TDX rules: debug off, TCB UpToDate, REPORTDATA bound, measurements "any". */
export function tdxRules() {
  return {
    mrTd: "any",
    rtmr0: "any",
    rtmr1: "any",
    rtmr2: "any",
    rtmr3: "any",
    mrSeam: "any",
    mrSignerSeam: "any",
    mrConfigId: "any",
    mrOwner: "any",
    mrOwnerConfig: "any",
    tdAttributes: { allowDebug: false, mask: "0000000000000000", value: "0000000000000000" },
    xfam: "any",
    tcbStatus: ["UpToDate"],
    reportData: "bound",
    revocation: "any",
  };
}
