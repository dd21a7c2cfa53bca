/**
 * Capture everything written to process.stdout and process.stderr (console
 * included) while still passing it through, so the test runner's own output
 * is unaffected.
 */
export interface Capture {
  text(): string;
  stop(): void;
}

export function captureOutput(): Capture {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((s) => s.write);
  for (const [i, stream] of streams.entries()) {
    const original = originals[i]!;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
      return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof stream.write;
  }
  return {
    text: () => chunks.join(""),
    stop: () => {
      for (const [i, stream] of streams.entries()) stream.write = originals[i]!;
    },
  };
}
