/**
 * The reference values a server measured, written as a client policy
 * document (`veritee serve --write-policy FILE`). The policy format, its
 * validation and its evaluation live in `@veritee/policy` (docs/POLICY.md);
 * this module keeps the server's historical exports.
 */
export {
  type PolicyDocument as PolicyDocumentV1,
  policyFromReferenceValues,
} from "@veritee/policy";
