/**
 * Side-by-side measurement: the subject and its baseline run in alternating
 * rounds within one process, so machine noise hits both alike and only their
 * ratio is reported as the result. Absolute rates are printed for context.
 */
import { performance } from "node:perf_hooks";

export interface Rate {
  readonly opsPerSecond: number;
  readonly meanMicros: number;
}

async function timeRound(fn: () => unknown, iterations: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < iterations; i++) {
    const r = fn();
    if (r instanceof Promise) await r;
  }
  return performance.now() - start;
}

/** Find an iteration count that takes about `targetMs` per round. */
async function calibrate(fn: () => unknown, targetMs: number): Promise<number> {
  let n = 1;
  for (;;) {
    const ms = await timeRound(fn, n);
    if (ms >= targetMs / 4 || n >= 1 << 24) return Math.max(1, Math.round((n * targetMs) / Math.max(ms, 0.001)));
    n *= 4;
  }
}

/**
 * Measure `subject` against `baseline` in `rounds` alternating rounds of about
 * `roundMs` each; the ratio is the median of per-round ratios (robust to a
 * noisy round).
 */
export async function compare(
  subject: () => unknown,
  baseline: () => unknown,
  opts: { rounds?: number; roundMs?: number } = {},
): Promise<{ subject: Rate; baseline: Rate; ratio: number }> {
  const rounds = opts.rounds ?? 7;
  const roundMs = opts.roundMs ?? 300;
  const nSubject = await calibrate(subject, roundMs);
  const nBaseline = await calibrate(baseline, roundMs);
  const ratios: number[] = [];
  let subjectMs = 0;
  let baselineMs = 0;
  for (let r = 0; r < rounds; r++) {
    const s = (await timeRound(subject, nSubject)) / nSubject;
    const b = (await timeRound(baseline, nBaseline)) / nBaseline;
    subjectMs += s;
    baselineMs += b;
    ratios.push(s / b);
  }
  ratios.sort((a, b) => a - b);
  const rate = (msPerOp: number): Rate => ({ opsPerSecond: 1000 / msPerOp, meanMicros: msPerOp * 1000 });
  return {
    subject: rate(subjectMs / rounds),
    baseline: rate(baselineMs / rounds),
    ratio: ratios[Math.floor(ratios.length / 2)]!,
  };
}

/** Latency percentiles of `fn` over `count` sequential calls, in milliseconds. */
export async function latency(
  fn: () => Promise<unknown>,
  count: number,
): Promise<{ p50: number; p99: number; mean: number }> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: samples.reduce((a, b) => a + b, 0) / samples.length };
}

/** Format a number with a fixed number of significant digits. */
export function fmt(n: number, digits = 3): string {
  return Number(n.toPrecision(digits)).toLocaleString("en-US");
}
