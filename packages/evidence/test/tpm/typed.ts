/** Assertions about the typed errors the TPM decoders and verifiers throw. */
import assert from "node:assert/strict";
import { MalformedError } from "@veritee/core";
import { VerificationError } from "../../src/errors.js";

/** Run `fn`; it may return, or throw a MalformedError, nothing else. */
export function onlyMalformed(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
  }
}

/** `fn` throws a MalformedError with `code`. */
export function throwsMalformed(fn: () => unknown, code: MalformedError["code"]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MalformedError, `expected MalformedError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** `p` rejects with an error of `type` and `code`. */
export async function rejectsWith(
  p: Promise<unknown>,
  type: typeof MalformedError | typeof VerificationError,
  code: string,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    assert.equal((e as MalformedError | VerificationError).code, code, (e as Error).message);
    return true;
  });
}

/** `p` resolves, or rejects with a MalformedError or VerificationError; returns the error if any. */
export async function settlesTyped<T>(
  p: Promise<T>,
): Promise<{ ok: T } | { error: MalformedError | VerificationError }> {
  try {
    return { ok: await p };
  } catch (e) {
    if (e instanceof MalformedError || e instanceof VerificationError) return { error: e };
    throw e;
  }
}
