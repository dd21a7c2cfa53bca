/**
 * SlotPool: first come first served, a bounded queue refused with "busy",
 * aborts and close handled without leaking a slot.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SlotPool } from "../../src/engine/slot-pool.js";
import { EngineError } from "../../src/engine/types.js";

const never = new AbortController().signal;

async function rejectsWith(p: Promise<unknown>, code: string): Promise<EngineError> {
  try {
    await p;
  } catch (error) {
    assert.ok(error instanceof EngineError, `expected EngineError, got ${String(error)}`);
    assert.equal(error.code, code);
    return error;
  }
  assert.fail(`expected EngineError ${code}`);
}

describe("SlotPool", () => {
  test("hands out free slots, then queues in FIFO order", async () => {
    const pool = new SlotPool(["a", "b"], { maxQueue: 3, retryAfterSeconds: 1 });
    const a = await pool.acquire(never);
    const b = await pool.acquire(never);
    assert.deepEqual([a.slot, b.slot].sort(), ["a", "b"]);
    const order: string[] = [];
    const waits = [1, 2, 3].map((n) =>
      pool.acquire(never).then((lease) => {
        order.push(`${n}:${lease.slot}`);
        return lease;
      }),
    );
    assert.equal(pool.waiting, 3);
    a.release();
    a.release(); // idempotent: must not hand the slot out twice
    const first = await waits[0]!;
    b.release();
    const second = await waits[1]!;
    first.release();
    const third = await waits[2]!;
    assert.deepEqual(order, [`1:${a.slot}`, `2:${b.slot}`, `3:${a.slot}`]);
    assert.equal(pool.busy, 2);
    second.release();
    third.release();
    assert.equal(pool.busy, 0);
  });

  test("a full queue is refused at once with busy and Retry-After", async () => {
    const pool = new SlotPool([1], { maxQueue: 1, retryAfterSeconds: 3 });
    const held = await pool.acquire(never);
    const queued = pool.acquire(never);
    const error = await rejectsWith(pool.acquire(never), "busy");
    assert.equal(error.retryAfterSeconds, 3);
    held.release();
    (await queued).release();
    assert.equal(pool.busy, 0);
  });

  test("maxQueue 0 means no waiting at all", async () => {
    const pool = new SlotPool([1], { maxQueue: 0, retryAfterSeconds: 1 });
    const held = await pool.acquire(never);
    await rejectsWith(pool.acquire(never), "busy");
    held.release();
  });

  test("an abort while queued leaves the queue and never receives a slot", async () => {
    const pool = new SlotPool([1], { maxQueue: 2, retryAfterSeconds: 1 });
    const held = await pool.acquire(never);
    const ac = new AbortController();
    const aborted = pool.acquire(ac.signal);
    const next = pool.acquire(never);
    ac.abort();
    await rejectsWith(aborted, "aborted");
    assert.equal(pool.waiting, 1);
    held.release();
    const lease = await next;
    assert.equal(lease.slot, 1);
    lease.release();
    await rejectsWith(pool.acquire(AbortSignal.abort()), "aborted");
    assert.equal(pool.busy, 0);
  });

  test("close rejects the queue and new requests with closed; whenIdle waits for leases", async () => {
    const pool = new SlotPool([1], { maxQueue: 2, retryAfterSeconds: 1 });
    const held = await pool.acquire(never);
    const queued = pool.acquire(never);
    pool.close();
    await rejectsWith(queued, "closed");
    await rejectsWith(pool.acquire(never), "closed");
    let idle = false;
    const waiting = pool.whenIdle().then(() => {
      idle = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(idle, false);
    held.release();
    await waiting;
    assert.equal(idle, true);
  });

  test("rejects bad configuration", () => {
    assert.throws(() => new SlotPool([], { maxQueue: 1, retryAfterSeconds: 1 }), RangeError);
    assert.throws(() => new SlotPool([1], { maxQueue: -1, retryAfterSeconds: 1 }), RangeError);
  });
});
