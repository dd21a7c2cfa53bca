/** Options for one command exchange. */
export interface TransmitOptions {
  /** Fail with `timeout` (and close the transport) when no complete response arrives in time. */
  readonly timeoutMs: number;
  /** The command's name, for error messages. */
  readonly command: string;
}

/**
 * A byte pipe to a TPM: one command out, one complete response back. A
 * transport frames responses by their header's size and rejects anything
 * else; it does not interpret them. One exchange at a time: the client's
 * queue serialises callers, and a transport refuses an overlapping call.
 * After a timeout or a framing error the transport is closed, because its
 * stream can no longer be trusted to be in step with the TPM.
 */
export interface TpmTransport {
  /** Where it is connected, e.g. "tcp 127.0.0.1:2321", for messages. */
  readonly description: string;
  /** Send a complete command; resolve with the complete response bytes. */
  transmit(command: Uint8Array, options: TransmitOptions): Promise<Uint8Array>;
  /** Close; pending and later exchanges fail with `transport-closed`. Idempotent. */
  close(): Promise<void>;
}
