/**
 * The SHA-256 half of sealing and unsealing, on a second thread
 * (parallel-hash.ts): the main thread reads, encrypts or decrypts and writes
 * while this thread hashes the same plaintext chunks from shared memory, so
 * a seal costs about one AES-GCM pass instead of AES-GCM plus SHA-256.
 */
import { createHash } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";

interface Data {
  readonly shared: SharedArrayBuffer;
  readonly slotBytes: number;
}

const { shared, slotBytes } = workerData as Data;
const hash = createHash("sha256");
parentPort!.on("message", (message: { slot: number; length: number } | { end: true }) => {
  if ("end" in message) {
    parentPort!.postMessage({ digest: hash.digest("hex") });
    return;
  }
  hash.update(new Uint8Array(shared, message.slot * slotBytes, message.length));
  parentPort!.postMessage({ slot: message.slot });
});
