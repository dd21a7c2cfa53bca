/**
 * A FIFO of asynchronous tasks, run one at a time. A TPM executes one command
 * at a time and swtpm serves one connection, so every exchange of a client
 * goes through one queue: concurrent callers wait their turn, never interleave.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Run `task` after every task queued before it has settled; resolves or rejects as `task` does. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    // The tail never rejects, so a failed task does not stop the ones after it.
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
