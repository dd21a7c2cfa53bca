/**
 * The attested server for the client benchmark, in a process of its own (as
 * deployed): a development TPM, the embedded model, plain HTTP and attested
 * TLS ports. Sends its URLs and the policy of what it measured to the parent
 * over IPC, then serves until the parent disconnects.
 */
import path from "node:path";
import { policyFromReferenceValues } from "@veritee/policy";
import { silentLogger, startVeriteeServer } from "@veritee/server";
import { sharedPath } from "@veritee/testkit";

const server = await startVeriteeServer({
  // The benchmark's own environment (e.g. NODE_EXTRA_CA_CERTS) is not under test: record a clean launch.
  launchEnvironment: { execArgv: [], env: {} },
  port: 0,
  tls: { port: 0 },
  tpm: { kind: "dev" },
  codeRoot: path.resolve("."),
  engine: { kind: "embedded", model: sharedPath("models", "stories260K.gguf"), threads: 1, parallelSequences: 2 },
  logger: silentLogger,
});
process.send?.({ url: server.url, tlsUrl: server.tlsUrl, policy: policyFromReferenceValues(server.referenceValues) });
process.once("disconnect", () => {
  void server.close().then(() => process.exit(0));
});
