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
import { performance } from "node:perf_hooks";
import { createPinnedAgent, createPinnedFetch } from "@veritee/channel/node";
import { connect, type Session } from "@veritee/client/node";
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
    sessions.push(sealedTls, sealedHttp);
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
