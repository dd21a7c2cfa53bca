/**
 * Transports and the client against hostile or broken peers: a fake TPM on a
 * local TCP port that answers with chosen bytes, and real character devices
 * (/dev/null, /dev/zero) standing in for a misbehaving TPM device.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, test } from "node:test";
import { ByteReader, ByteWriter, fromHex, hash } from "@veritee/core";
import {
  DeviceTransport,
  encodeCommand,
  StreamTransport,
  TPM_CC,
  TpmClient,
  TpmError,
  type TpmTransport,
} from "../src/index.js";
import { readPcrSelection } from "../src/wire/structures.js";

type Reply = Uint8Array | "close" | "silence";

interface FakeTpm {
  port: number;
  commands: Uint8Array[];
  /** Set when a command arrived while the previous one was still unanswered. */
  overlapped: boolean;
  close(): Promise<void>;
}

const servers: FakeTpm[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** A TCP server that frames commands by their header and answers each with `handler`'s bytes. */
async function fakeTpm(handler: (command: Uint8Array, index: number) => Reply | Promise<Reply>): Promise<FakeTpm> {
  const sockets = new Set<net.Socket>();
  const state: FakeTpm = { port: 0, commands: [], overlapped: false, close: async () => {} };
  let pending = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffer = Buffer.alloc(0);
    socket.on("data", async (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 6 && buffer.length >= buffer.readUInt32BE(2)) {
        const size = buffer.readUInt32BE(2);
        const command = new Uint8Array(buffer.subarray(0, size));
        buffer = buffer.subarray(size);
        const index = state.commands.push(command) - 1;
        if (pending > 0) state.overlapped = true;
        pending++;
        const reply = await handler(command, index);
        pending--;
        if (reply === "close") socket.destroy();
        else if (reply !== "silence") socket.write(reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  servers.push(state);
  return state;
}

/** A TCP server whose connections `onConnection` handles by hand. */
async function rawServer(onConnection: (socket: net.Socket) => void): Promise<{ port: number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  servers.push({
    port,
    commands: [],
    overlapped: false,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
  return { port };
}

function reply(rc: number, body: Uint8Array = new Uint8Array(0), tag = 0x8001): Uint8Array {
  return new ByteWriter()
    .u16(tag)
    .u32(10 + body.length)
    .u32(rc)
    .bytes(body)
    .finish();
}

/** A GetRandom answer with `n` bytes. */
function randomReply(n: number): Uint8Array {
  return reply(0, new ByteWriter().tpm2b(new Uint8Array(n).fill(0x5a)).finish());
}

function commandCode(command: Uint8Array): number {
  return new DataView(command.buffer, command.byteOffset).getUint32(6, false);
}

const isTpmError = (code: string) => (e: unknown) => e instanceof TpmError && e.code === code;
const getRandom = encodeCommand({ code: TPM_CC.GetRandom, handles: [], sessions: [], parameters: fromHex("0010") });

async function connect(fake: FakeTpm, timeoutMs = 2000): Promise<TpmTransport> {
  return StreamTransport.connect({ host: "127.0.0.1", port: fake.port }, timeoutMs);
}

describe("stream transport framing", () => {
  test("assembles a response that arrives one byte at a time", async () => {
    const full = randomReply(16);
    const server = await rawServer((socket) => {
      socket.once("data", async () => {
        for (const b of full) {
          socket.write(Uint8Array.of(b));
          await new Promise((r) => setTimeout(r, 1));
        }
      });
    });
    const t = await StreamTransport.connect({ host: "127.0.0.1", port: server.port });
    assert.deepEqual(await t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" }), full);
    await t.close();
  });

  test("bytes beyond the announced size are a bad-response, and the transport is then closed", async () => {
    const fake = await fakeTpm(() => new Uint8Array([...randomReply(16), 0x00]));
    const t = await connect(fake);
    await assert.rejects(
      t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" }),
      isTpmError("bad-response"),
    );
    await assert.rejects(
      t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" }),
      isTpmError("transport-closed"),
    );
  });

  test("a header announcing fewer than 10 or more than 64 KiB bytes is a bad-response", async () => {
    for (const size of [4, 0x10001]) {
      const fake = await fakeTpm(() => new ByteWriter().u16(0x8001).u32(size).u32(0).finish());
      const t = await connect(fake);
      await assert.rejects(
        t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" }),
        isTpmError("bad-response"),
      );
    }
  });

  test("a peer that hangs up mid-response is transport-closed", async () => {
    const fake = await fakeTpm(() => "close");
    const t = await connect(fake);
    await assert.rejects(
      t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" }),
      isTpmError("transport-closed"),
    );
  });

  test("no answer within the timeout is `timeout`; the transport is closed afterwards", async () => {
    const fake = await fakeTpm(() => "silence");
    const t = await connect(fake);
    const started = Date.now();
    await assert.rejects(
      t.transmit(getRandom, { timeoutMs: 100, command: "TPM2_GetRandom" }),
      (e: unknown) => e instanceof TpmError && e.code === "timeout" && e.command === "TPM2_GetRandom",
    );
    assert.ok(Date.now() - started < 1000);
    await assert.rejects(
      t.transmit(getRandom, { timeoutMs: 100, command: "TPM2_GetRandom" }),
      isTpmError("transport-closed"),
    );
  });

  test("unsolicited bytes between commands poison the connection", async () => {
    // A peer that answers, then sends one more byte with no command outstanding.
    const server = await rawServer((socket) => {
      socket.once("data", () => {
        socket.write(randomReply(16));
        setTimeout(() => socket.write(Uint8Array.of(0x80)), 20);
      });
    });
    const t = await StreamTransport.connect({ host: "127.0.0.1", port: server.port });
    assert.equal((await t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" })).length, 28);
    await new Promise((r) => setTimeout(r, 80));
    await assert.rejects(
      t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" }),
      (e: unknown) => e instanceof TpmError && e.code === "transport-closed" && /bad-response/.test(e.message),
    );
  });

  test("a transport refuses a second exchange while one is in flight", async () => {
    const fake = await fakeTpm(async () => {
      await new Promise((r) => setTimeout(r, 50));
      return randomReply(16);
    });
    const t = await connect(fake);
    const first = t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" });
    await assert.rejects(
      t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" }),
      isTpmError("bad-argument"),
    );
    assert.equal((await first).length, 28);
  });

  test("an unreachable TPM is transport-error from connect", async () => {
    const fake = await fakeTpm(() => "silence");
    const port = fake.port;
    await fake.close();
    await assert.rejects(
      TpmClient.connect({ kind: "tcp", port }),
      (e: unknown) => e instanceof TpmError && e.code === "transport-error" && e.command === "connect",
    );
  });
});

describe("client over a fake TPM", () => {
  test("the queue sends one command at a time, in call order, to a slow TPM", async () => {
    const fake = await fakeTpm(async (_c, i) => {
      await new Promise((r) => setTimeout(r, (i * 7) % 5));
      return randomReply(8);
    });
    const tpm = await TpmClient.connect({ kind: "tcp", port: fake.port });
    const sizes = [3, 8, 1, 5, 8, 2, 7, 4, 6, 8, 1, 2];
    const results = await Promise.all(sizes.map((n) => tpm.getRandom(n).catch((e: unknown) => e)));
    // The fake always returns 8 bytes: more than asked is refused, exactly 8 is fine.
    results.forEach((r, i) => {
      if (sizes[i] === 8) assert.ok(r instanceof Uint8Array && r.length === 8);
      else assert.ok(r instanceof TpmError && r.code === "bad-response");
    });
    assert.equal(fake.overlapped, false);
    const requested = fake.commands.map((c) => new DataView(c.buffer).getUint16(10, false));
    assert.deepEqual(requested, sizes);
    await tpm.close();
    await assert.rejects(tpm.getRandom(1), isTpmError("transport-closed"));
  });

  test("TPM_RC_RETRY and TPM_RC_YIELDED are retried; other warnings are not", async () => {
    const fake = await fakeTpm((_c, i) => (i === 0 ? reply(0x922) : i === 1 ? reply(0x908) : randomReply(4)));
    const tpm = await TpmClient.connect({ kind: "tcp", port: fake.port });
    assert.equal((await tpm.getRandom(4)).length, 4);
    assert.equal(fake.commands.length, 3);
    await tpm.close();
    const locked = await fakeTpm(() => reply(0x921));
    const tpm2 = await TpmClient.connect({ kind: "tcp", port: locked.port });
    await assert.rejects(
      tpm2.getRandom(4),
      (e: unknown) => e instanceof TpmError && e.code === "TPM_RC_LOCKOUT" && e.warning,
    );
    assert.equal(locked.commands.length, 1);
    await tpm2.close();
  });

  /** A PCR_Read answer to `command` returning at most `limit` of the selected PCRs, all zero. */
  function pcrReadAnswer(command: Uint8Array, counter: number, limit = 8, extra = false): Uint8Array {
    const r = new ByteReader(command.subarray(10), "cmd");
    const selection = readPcrSelection(r, "sel");
    const sizes = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 } as const;
    const out = new ByteWriter().u32(counter).u32(selection.length);
    const digests: Uint8Array[] = [];
    let budget = limit;
    for (const { bank, pcrs } of selection) {
      const bitmap = new Uint8Array(3);
      const take = pcrs.slice(0, budget);
      if (extra && take.length > 0) take.push(22);
      budget -= Math.min(budget, pcrs.length);
      for (const p of take) {
        bitmap[p >> 3]! |= 1 << (p & 7);
        digests.push(new Uint8Array(sizes[bank]));
      }
      out
        .u16(bank === "sha1" ? 4 : bank === "sha256" ? 11 : bank === "sha384" ? 12 : 13)
        .u8(3)
        .bytes(bitmap);
    }
    out.u32(digests.length);
    for (const d of digests) out.tpm2b(d);
    return reply(0, out.finish());
  }

  test("PCR_Read restarts when the update counter moves, and gives up with pcr-changed", async () => {
    // An extend lands between the first and second call: counter 1, then 2 from then on.
    const moving = await fakeTpm((c, i) => pcrReadAnswer(c, i === 0 ? 1 : 2));
    const tpm = await TpmClient.connect({ kind: "tcp", port: moving.port });
    const values = await tpm.pcrRead({ sha256: [...Array(12).keys()] });
    assert.equal(values.get("sha256")!.size, 12);
    // 8 PCRs (counter 1), 4 PCRs (counter 2: start over), 8 PCRs and 4 PCRs (counter 2).
    assert.equal(moving.commands.length, 4);
    const firstOfRetry = new ByteReader(moving.commands[2]!.subarray(10), "cmd");
    assert.equal(readPcrSelection(firstOfRetry, "sel")[0]!.pcrs.length, 12);
    await tpm.close();

    const always = await fakeTpm((c, i) => pcrReadAnswer(c, i));
    const tpm2 = await TpmClient.connect({ kind: "tcp", port: always.port });
    await assert.rejects(tpm2.pcrRead({ sha256: [...Array(12).keys()] }), isTpmError("pcr-changed"));
    assert.equal(always.commands.length, 10); // five attempts of two calls each
    await tpm2.close();
  });

  test("PCR_Read: a PCR that was not asked for is bad-response; none at all is unsupported", async () => {
    const extra = await fakeTpm((c) => pcrReadAnswer(c, 1, 8, true));
    const tpm = await TpmClient.connect({ kind: "tcp", port: extra.port });
    await assert.rejects(tpm.pcrRead({ sha256: [0, 1] }), isTpmError("bad-response"));
    await tpm.close();
    const none = await fakeTpm((c) => pcrReadAnswer(c, 1, 0));
    const tpm2 = await TpmClient.connect({ kind: "tcp", port: none.port });
    await assert.rejects(tpm2.pcrRead({ sha256: [0, 1] }), isTpmError("unsupported"));
    await tpm2.close();
  });

  test("NV_Read is chunked by TPM_PT_NV_BUFFER_MAX", async () => {
    const data = new Uint8Array(250).map((_, i) => i);
    const nvPublic = new ByteWriter().u32(0x01500000).u16(0x000b).u32(0x20040000).u16(0).u16(data.length).finish();
    const name = new Uint8Array([0x00, 0x0b, ...hash("sha256", nvPublic)]);
    const reads: [number, number][] = [];
    const fake = await fakeTpm((c) => {
      const cc = commandCode(c);
      const view = new DataView(c.buffer);
      if (cc === TPM_CC.NV_ReadPublic) return reply(0, new ByteWriter().tpm2b(nvPublic).tpm2b(name).finish());
      if (cc === TPM_CC.GetCapability) {
        return reply(0, new ByteWriter().u8(0).u32(6).u32(1).u32(0x12c).u32(100).finish());
      }
      if (cc === TPM_CC.NV_Read) {
        const size = view.getUint16(c.length - 4, false);
        const offset = view.getUint16(c.length - 2, false);
        reads.push([size, offset]);
        const body = new ByteWriter()
          .u32(2 + size)
          .tpm2b(data.subarray(offset, offset + size))
          .u16(0)
          .u8(1)
          .u16(0);
        return reply(0, body.finish(), 0x8002);
      }
      return reply(0x143);
    });
    const tpm = await TpmClient.connect({ kind: "tcp", port: fake.port });
    assert.deepEqual(await tpm.nvRead(0x01500000), data);
    assert.deepEqual(reads, [
      [100, 0],
      [100, 100],
      [50, 200],
    ]);
    await tpm.close();
  });

  test("an NV_ReadPublic answer whose Name does not match is bad-response", async () => {
    const nvPublic = new ByteWriter().u32(0x01500000).u16(0x000b).u32(0x20040000).u16(0).u16(10).finish();
    const fake = await fakeTpm(() =>
      reply(
        0,
        new ByteWriter()
          .tpm2b(nvPublic)
          .tpm2b(fromHex(`000b${"00".repeat(32)}`))
          .finish(),
      ),
    );
    const tpm = await TpmClient.connect({ kind: "tcp", port: fake.port });
    await assert.rejects(tpm.nvReadPublic(0x01500000), isTpmError("bad-response"));
    await tpm.close();
  });
});

describe("device transport", () => {
  test("a missing device is transport-error", async () => {
    await assert.rejects(
      TpmClient.connect({ kind: "device", path: "/nonexistent/tpmrm0" }),
      (e: unknown) => e instanceof TpmError && e.code === "transport-error" && e.command === "connect",
    );
  });

  test("a device that returns end of file is transport-closed (/dev/null)", async () => {
    const t = await DeviceTransport.open("/dev/null");
    assert.equal(t.description, "device /dev/null");
    await assert.rejects(
      t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" }),
      isTpmError("transport-closed"),
    );
    await assert.rejects(
      t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" }),
      isTpmError("transport-closed"),
    );
  });

  test("a device that returns garbage is bad-response (/dev/zero: a header announcing 0 bytes)", async () => {
    const t = await DeviceTransport.open("/dev/zero");
    await assert.rejects(
      t.transmit(getRandom, { timeoutMs: 2000, command: "TPM2_GetRandom" }),
      isTpmError("bad-response"),
    );
    await t.close();
  });
});
