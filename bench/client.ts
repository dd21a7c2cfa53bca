/**
 * What verifying before sending costs the client (issue 4's benchmark):
 *
 *  - first request with attestation — fresh nonce, quote, verification,
 *    credential activation, policy, channel setup, then one sealed request —
 *    vs the first request over plain HTTPS to the same server (a fresh TLS
 *    connection and one request): added milliseconds and the ratio;
 *  - steady state: requests/s with sealed bodies (on the attested TLS
 *    connection) vs plain HTTPS on the same endpoint, `max_tokens: 1`.
 *    Goal ≥ 0.9. The same over plain HTTP (sealing alone vs nothing).
 *
 * The server runs as its own process; client and baseline alternate rounds.
 */
import { fork } from "node:child_process";
import { createPrivateKey, diffieHellman, generateKeyPairSync, randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import {
  createRequestSealer,
  openRequest,
  openResponse,
  type RequestContext,
  type Responder,
  type SealedRequest,
  sealRequest,
} from "@veritee/channel";
import { createPinnedAgent, createPinnedFetch, nodeBackend, nodeRecipientKey } from "@veritee/channel/node";
import { connect, type Session } from "@veritee/client/node";
import { HPKE_AEAD_AES_128_GCM, type HpkeKeyConfig } from "@veritee/evidence";
import { compare, fmt } from "./harness.js";

interface Started {
  readonly url: string;
  readonly tlsUrl: string;
  readonly policy: object;
}

const BODY = JSON.stringify({ model: "stories260K", prompt: "Once upon a time", max_tokens: 1, temperature: 0 });
const FIRST_REQUEST_ROUNDS = 15;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function completion(fetchFn: typeof fetch, apiRoot: string): Promise<void> {
  const response = await fetchFn(`${apiRoot}/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: BODY,
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  await response.arrayBuffer();
}

/** Requests completed per second by `workers` concurrent loops over `ms`. */
async function throughput(send: () => Promise<void>, workers: number, ms: number): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) {
        await send();
        done++;
      }
    }),
  );
  return (done * 1000) / (performance.now() - start);
}

/** Mean microseconds per call of `fn` over about `ms` (at most `limit` calls in all), after a warm-up. */
async function micros(fn: () => unknown, ms = 300, limit = Number.POSITIVE_INFINITY): Promise<number> {
  const warm = Math.min(200, Math.floor(limit / 4));
  for (let i = 0; i < warm; i++) await fn();
  let n = 0;
  let spent = 0;
  while (spent < ms && warm + n < limit) {
    const start = performance.now();
    await fn();
    spent += performance.now() - start;
    n++;
  }
  return (spent * 1000) / n;
}

/** The channel's cryptography per request, step by step (see the module comment of request-sealer.ts). */
async function channelFloor(): Promise<
  Record<"keygen" | "dh" | "seal" | "preparedSeal" | "open" | "sealAnswer" | "openAnswer", number>
> {
  const pair = generateKeyPairSync("x25519");
  const keyConfig: HpkeKeyConfig = {
    keyId: 0,
    kemId: 0x0020,
    publicKey: new Uint8Array(Buffer.from(pair.publicKey.export({ format: "jwk" }).x!, "base64url")),
    cipherSuites: [{ kdfId: 1, aeadId: HPKE_AEAD_AES_128_GCM }],
  };
  const keySetDigest = new Uint8Array(32).fill(7);
  const target = { keySet: { hpke: keyConfig }, keySetDigest };
  const recipient = nodeRecipientKey({ keyConfig, keySetDigest, privateKey: pair.privateKey });
  const meta = { method: "POST", path: "/v1/completions", contentType: "application/json" } as const;
  const request = { ...meta, body: new TextEncoder().encode(BODY) };
  const answer = new TextEncoder().encode(
    JSON.stringify({
      id: "cmpl-0123456789",
      object: "text_completion",
      created: 1,
      model: "stories260K",
      choices: [{ text: " there", index: 0, finish_reason: "length", logprobs: null }],
      usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
    }),
  );
  const head = { status: 200, headers: { "content-type": "application/json" } };
  const keygen = await micros(() =>
    createPrivateKey({
      key: { kty: "OKP", crv: "X25519", d: randomBytes(32).toString("base64url"), x: "" },
      format: "jwk",
    }),
  );
  const dh = await micros(() => diffieHellman({ privateKey: pair.privateKey, publicKey: pair.publicKey }));
  const seal = await micros(() => sealRequest(target, request, { backend: nodeBackend }));
  // Prepared: the sealer makes the next encapsulation once the current work is done; time only the seal itself.
  const sealer = createRequestSealer(target, { backend: nodeBackend });
  let preparedTotal = 0;
  let preparedCount = 0;
  for (let i = 0; i < 1200; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    const start = performance.now();
    await sealer.seal(request);
    if (i >= 200) {
      preparedTotal += performance.now() - start;
      preparedCount++;
    }
  }
  sealer.close();
  const sealed: SealedRequest[] = [];
  for (let i = 0; i < 3000; i++) sealed.push(await sealRequest(target, request, { backend: nodeBackend }));
  let next = 0;
  // Opening the same sealed request again is allowed (a replay, docs/CHANNEL.md): the work is the same.
  const open = await micros(() => openRequest(recipient, sealed[next++ % sealed.length]!.sealed));
  // Fresh pairs for the answer: a responder and a context serve one response each.
  const pairs: { context: RequestContext; responder: Responder }[] = [];
  for (let i = 0; i < 3000; i++) {
    const s = await sealRequest(target, request, { backend: nodeBackend });
    pairs.push({ context: s.context, responder: (await openRequest(recipient, s.sealed)).responder });
  }
  next = 0;
  const answers: { context: RequestContext; bytes: Uint8Array }[] = [];
  const sealAnswer = await micros(
    async () => {
      const p = pairs[next++]!;
      answers.push({ context: p.context, bytes: await p.responder.sealResponse(head, answer) });
    },
    200,
    pairs.length,
  );
  next = 0;
  const openAnswer = await micros(
    async () => {
      const a = answers[next++]!;
      await openResponse(a.context, a.bytes);
    },
    200,
    answers.length,
  );
  return { keygen, dh, seal, preparedSeal: (preparedTotal * 1000) / preparedCount, open, sealAnswer, openAnswer };
}

/** Spawn the server process and wait for its URLs and policy. */
async function startServer(): Promise<{ started: Started; stop: () => Promise<void> }> {
  const child = fork(new URL("./client-server.js", import.meta.url), [], {
    stdio: ["ignore", "ignore", "ignore", "ipc"],
  });
  const started = await new Promise<Started>((resolve, reject) => {
    child.once("message", (m) => resolve(m as Started));
    child.once("exit", (code) => reject(new Error(`the benchmark server exited with ${code}`)));
  });
  return {
    started,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.disconnect();
      await exited;
    },
  };
}

/** The benchmark. */
export async function benchClient(): Promise<void> {
  const { started, stop } = await startServer();
  const { url, tlsUrl, policy } = started;
  const probe = await connect({ baseURL: tlsUrl, policy });
  const spki = probe.attestation.keySet.tlsSpki;
  await probe.close();
  const sessions: Session[] = [];
  try {
    // 1. The first request: a new session (attestation, activation, policy, channel) and one sealed request,
    //    vs a new pinned TLS connection and one plain request. Spaced: credential activation is rate limited.
    const attested: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < FIRST_REQUEST_ROUNDS; i++) {
      let start = performance.now();
      const session = await connect({ baseURL: tlsUrl, policy });
      await completion(session.fetch, session.baseURL);
      attested.push(performance.now() - start);
      await session.close();

      start = performance.now();
      const agent = createPinnedAgent({ spki, keepAlive: false });
      await completion(createPinnedFetch({ origin: tlsUrl, spki, agent }), `${tlsUrl}/v1`);
      plain.push(performance.now() - start);
      agent.destroy();
      await new Promise((resolve) => setTimeout(resolve, 120));
    }
    const a = median(attested);
    const p = median(plain);
    console.log("\n## First request: with attestation vs plain HTTPS to the same server (max_tokens 1)");
    console.log("| attested first request ms (median) | plain HTTPS first request ms | added ms | ratio |");
    console.log("| ---: | ---: | ---: | ---: |");
    console.log(`| ${fmt(a)} | ${fmt(p)} | ${fmt(a - p)} | ${fmt(a / p)} |`);

    // 2. Steady state, sequential requests on kept-alive connections.
    const sealedTls = await connect({ baseURL: tlsUrl, policy });
    const sealedHttp = await connect({ baseURL: url, policy });
    const unsealedTls = await connect({ baseURL: tlsUrl, policy, sealed: false });
    sessions.push(sealedTls, sealedHttp, unsealedTls);
    const pinned = createPinnedFetch({ origin: tlsUrl, spki });
    const https = await compare(
      () => completion(sealedTls.fetch, sealedTls.baseURL),
      () => completion(pinned, `${tlsUrl}/v1`),
      { rounds: 7, roundMs: 400 },
    );
    const http = await compare(
      () => completion(sealedHttp.fetch, sealedHttp.baseURL),
      () => completion(fetch, `${url}/v1`),
      { rounds: 7, roundMs: 400 },
    );
    // Control: the SDK's session.fetch over the same pinned TLS without sealing — what the SDK costs by itself.
    const sdk = await compare(
      () => completion(unsealedTls.fetch, unsealedTls.baseURL),
      () => completion(pinned, `${tlsUrl}/v1`),
      { rounds: 5, roundMs: 400 },
    );
    console.log(
      "\n## Steady state: requests/s, sealed bodies vs plain on the same endpoint (max_tokens 1, sequential)",
    );
    console.log("| transport | sealed req/s | plain req/s | sealed / plain (median of 7 rounds; goal ≥ 0.9) |");
    console.log("| --- | ---: | ---: | ---: |");
    console.log(
      `| attested TLS (pinned) | ${fmt(https.subject.opsPerSecond)} | ${fmt(https.baseline.opsPerSecond)} | ${fmt(1 / https.ratio)} |`,
    );
    console.log(
      `| HTTP | ${fmt(http.subject.opsPerSecond)} | ${fmt(http.baseline.opsPerSecond)} | ${fmt(1 / http.ratio)} |`,
    );
    console.log(
      `| control: attested TLS, session.fetch without sealing | ${fmt(sdk.subject.opsPerSecond)} | ${fmt(sdk.baseline.opsPerSecond)} | ${fmt(1 / sdk.ratio)} |`,
    );

    // The floor: the channel's cryptography on one request's critical path, measured here in process.
    const floor = await channelFloor();
    const plainMs = https.baseline.meanMicros / 1000;
    const criticalMs = (floor.preparedSeal + floor.open + floor.sealAnswer + floor.openAnswer) / 1000;
    console.log("\n## The floor: the sealed channel's cryptography per request (node backend, in process, µs)");
    console.log(
      "| X25519 key (from 32 random bytes) | X25519 DH | client: encapsulate + seal | client: seal, encapsulation prepared | server: decapsulate + open | server: seal the answer | client: open the answer |",
    );
    console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    console.log(
      `| ${fmt(floor.keygen)} | ${fmt(floor.dh)} | ${fmt(floor.seal)} | ${fmt(floor.preparedSeal)} | ${fmt(floor.open)} | ${fmt(floor.sealAnswer)} | ${fmt(floor.openAnswer)} |`,
    );
    console.log(
      `\nOn the critical path of a sequential request (encapsulation prepared ahead): ${fmt(criticalMs * 1000)} µs of cryptography alone, against ${fmt(plainMs)} ms for the plain request: sealed / plain can be at most ${fmt(plainMs / (plainMs + criticalMs))} on this machine even with no other cost (more where client and server do not share two cores).`,
    );

    // 3. The same with 8 requests in flight (the server's two sequences busy), alternating rounds.
    const ratios: number[] = [];
    const rates: [number, number][] = [];
    for (let round = 0; round < 5; round++) {
      const sealedRate = await throughput(() => completion(sealedTls.fetch, sealedTls.baseURL), 8, 600);
      const plainRate = await throughput(() => completion(pinned, `${tlsUrl}/v1`), 8, 600);
      rates.push([sealedRate, plainRate]);
      ratios.push(sealedRate / plainRate);
    }
    console.log("\n## Throughput with 8 requests in flight, attested TLS: sealed vs plain (max_tokens 1)");
    console.log("| sealed req/s (median) | plain req/s (median) | sealed / plain (median of 5 rounds; goal ≥ 0.9) |");
    console.log("| ---: | ---: | ---: |");
    console.log(
      `| ${fmt(median(rates.map((r) => r[0])))} | ${fmt(median(rates.map((r) => r[1])))} | ${fmt(median(ratios))} |`,
    );
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
    await stop();
  }
}
