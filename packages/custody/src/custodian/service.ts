/**
 * The custodian's HTTP JSON API (docs/CUSTODY.md "Custodian API"):
 *
 * - admin, behind `Authorization: Bearer TOKEN` (SHA-256 of the given and the
 *   expected token compared with `timingSafeEqual`, so neither the token nor
 *   its length leaks through timing): `POST/GET /v1/admin/models`,
 *   `POST/GET /v1/admin/deployments`, `POST /v1/admin/deployments/{id}/revoke`,
 *   `GET /v1/admin/audit?after=SEQ&limit=N`; governance (ledger.ts):
 *   `POST /v1/admin/deployments/{d}/consumers/{c}/supply`, `GET
 *   /v1/admin/usage`, `POST /v1/admin/deployments/{d}/throttle`, and
 *   `GET /metrics` (Prometheus text, counts only);
 * - `POST /v1/lease`, where the release's attested TLS key is the
 *   credential (a signed renewal, ledger.ts);
 * - multi-party control (owners.ts): `POST /v1/admin/models/{m}/owners`,
 *   `POST /v1/admin/deployments/{d}/unrevoke` and `…/policies` (with k
 *   owners' approvals for a k-of-n model), and `POST /v1/owner/revoke`, where
 *   one owner's signed approval is the credential;
 * - release, where the attestation is the credential: `POST
 *   /v1/release/challenge`, `/attest`, `/activate` (release.ts);
 * - `GET /v1/health`.
 *
 * Bodies are JSON of at most 1 MiB (the attestation document is the large
 * one), decoded strictly (unknown members are 400). Errors are
 * `{"error":{"code","message","claim"?}}`. A log line per request carries the
 * route, the status and the error code, never a body: secrets and documents
 * stay out of logs.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { listenError, MalformedError, parseJsonBytes } from "@veritee/core";
import { PolicyError, parsePolicy } from "@veritee/policy";
import { type CustodyCode, CustodyError } from "../errors.js";
import {
  decodeActivateRequest,
  decodeAttestRequest,
  decodeChallengeRequest,
  decodeConsumerAddRequest,
  decodeDeploymentAddRequest,
  decodeModelAddRequest,
  decodeOwnerRevokeRequest,
  decodeOwnersRequest,
  decodePolicyChangeRequest,
  decodeRenewalPayload,
  decodeSigned,
  decodeSupplyRequest,
  decodeThrottleRequest,
  decodeUnrevokeRequest,
  MAX_AUDIT_PAGE,
  releaseResponseToJson,
  signedToJson,
} from "../protocol/index.js";
import { Ledger } from "./ledger.js";
import { CustodianMetrics } from "./metrics.js";
import { OwnerControl } from "./owners.js";
import { ReleaseService } from "./release.js";
import type { CustodianStore } from "./store.js";

/** What the custodian stores of a consumer's API key: its SHA-256, hex (the key itself is 256 random bits). */
export function consumerKeyDigest(apiKey: string): string {
  return createHash("sha256").update(apiKey, "utf8").digest("hex");
}

/** Largest request body. */
const MAX_BODY_BYTES = 1 << 20;

/** Where the service's request log goes (fixed fields: no bodies). */
export type CustodianLog = (event: { method: string; route: string; status: number; code?: string }) => void;

/** Options of {@link startCustodianService}. */
export interface CustodianServiceOptions {
  readonly store: CustodianStore;
  /** The admin bearer token (at least 16 characters). */
  readonly adminToken: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly log?: CustodianLog;
  /**
   * Serve HTTPS with this certificate chain and key (PEM), TLS 1.2 at least.
   * Without it the custodian speaks plain HTTP (loopback, or behind the owner's proxy).
   */
  readonly tls?: { readonly cert: Uint8Array; readonly key: Uint8Array };
  /** Test hook: the clock of challenges and verification. */
  readonly now?: () => number;
}

/** A running custodian. */
export interface RunningCustodian {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const STATUS: Record<CustodyCode, number> = {
  refused: 403,
  revoked: 403,
  unreachable: 503,
  "not-enough-shares": 403,
  "bad-response": 502,
  unauthorized: 401,
  "not-found": 404,
  conflict: 409,
  "invalid-request": 400,
  replayed: 409,
  "lease-lost": 403,
  storage: 500,
};

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly claim?: string,
  ) {
    super(message);
  }
}

function digestOf(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > MAX_BODY_BYTES) throw new HttpFailure(413, "invalid-request", "the body is larger than 1 MiB");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpFailure(413, "invalid-request", "the body is larger than 1 MiB");
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new HttpFailure(415, "invalid-request", "send application/json");
  const bytes = await readBody(req);
  try {
    return parseJsonBytes(bytes, "request body", { maxBytes: MAX_BODY_BYTES, canonical: false });
  } catch (error) {
    throw new HttpFailure(400, "invalid-request", error instanceof MalformedError ? error.message : "not JSON");
  }
}

function decode<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof MalformedError) throw new HttpFailure(400, "invalid-request", error.message);
    throw error;
  }
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}

function peerOf(req: IncomingMessage): string | undefined {
  const a = req.socket.remoteAddress;
  return a ? `${a}:${req.socket.remotePort}` : undefined;
}

/** The admin and release routes; the answer is written, the route's name returned for the log. */
interface Services {
  readonly store: CustodianStore;
  readonly ledger: Ledger;
  readonly owners: OwnerControl;
  readonly release: ReleaseService;
  readonly metrics: CustodianMetrics;
  readonly checkAdmin: (req: IncomingMessage) => void;
}

const ID = "([A-Za-z0-9._-]{1,128})";
const CONSUMER_SUPPLY = new RegExp(`^/v1/admin/deployments/${ID}/consumers/${ID}/supply$`);
const THROTTLE = new RegExp(`^/v1/admin/deployments/${ID}/throttle$`);
const UNREVOKE = new RegExp(`^/v1/admin/deployments/${ID}/unrevoke$`);
const POLICIES = new RegExp(`^/v1/admin/deployments/${ID}/policies$`);
const OWNERS = new RegExp(`^/v1/admin/models/${ID}/owners$`);

/** Each policy of a request validated, for a clear 400 naming the one at fault. */
function validatePolicies(policies: readonly unknown[]): void {
  policies.forEach((policy, i) => {
    try {
      parsePolicy(policy);
    } catch (error) {
      const where = error instanceof PolicyError && error.path ? ` at ${error.path}` : "";
      throw new HttpFailure(400, "invalid-request", `policies[${i}] is not a valid policy${where}`);
    }
  });
}

/** `POST /v1/lease`: a renewal refused for its signature, deployment, usage or `seq` is audited with the claim. */
async function renewLease(body: unknown, services: Services, peer: string | undefined): Promise<unknown> {
  const renewal = decode(() => decodeSigned(body, "LeaseRenewal", decodeRenewalPayload));
  try {
    const lease = await services.ledger.renew(renewal);
    services.metrics.renewal(lease.payload.status);
    return signedToJson(lease);
  } catch (error) {
    if (error instanceof CustodyError && (error.code === "refused" || error.code === "replayed")) {
      services.metrics.refusedRenewal(error.claim ?? error.code);
      await services.store.appendAudit({
        type: "refusal",
        deployment: renewal.payload.deployment,
        ...(error.claim ? { claim: error.claim } : {}),
        reason: `${error.code}: ${error.message}`.slice(0, 1000),
        ...(peer ? { peer } : {}),
      });
    }
    throw error;
  }
}

async function dispatch(req: IncomingMessage, res: ServerResponse, services: Services): Promise<string> {
  const { store, ledger, owners, release, checkAdmin } = services;
  const method = req.method ?? "GET";
  const url = new URL(req.url ?? "/", "http://custodian");
  const p = url.pathname;
  const peer = peerOf(req);
  const only = (want: string) => {
    if (method !== want) throw new HttpFailure(405, "invalid-request", `${p} takes ${want}`);
  };

  if (p === "/v1/health") {
    only("GET");
    send(res, 200, { status: "ok", engine: store.engine, schema: await store.schemaVersion() });
    return "health";
  }

  if (p.startsWith("/v1/release/")) {
    only("POST");
    const body = await readJson(req);
    if (p === "/v1/release/challenge") {
      const { deployment } = decode(() => decodeChallengeRequest(body));
      send(res, 200, await release.challenge(deployment, peer));
      return "release.challenge";
    }
    if (p === "/v1/release/attest") {
      const request = decode(() => decodeAttestRequest(body));
      send(res, 200, await release.attest(request, peer));
      return "release.attest";
    }
    if (p === "/v1/release/activate") {
      const request = decode(() => decodeActivateRequest(body));
      send(res, 200, releaseResponseToJson(await release.activate(request, peer)));
      return "release.activate";
    }
    throw new HttpFailure(404, "not-found", `no route ${p}`);
  }

  if (p === "/v1/lease") {
    only("POST");
    send(res, 200, await renewLease(await readJson(req), services, peer));
    return "lease";
  }

  if (p === "/v1/owner/revoke") {
    // No admin token: one owner's signed approval is the credential (owners.ts).
    only("POST");
    const body = await readJson(req);
    const { approval } = decode(() => decodeOwnerRevokeRequest(body));
    await owners.ownerRevoke(approval, peer);
    send(res, 200, { id: approval.payload.deployment, revoked: true });
    return "owner.revoke";
  }

  if (p === "/metrics") {
    only("GET");
    checkAdmin(req);
    const text = services.metrics.render();
    res.writeHead(200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
      "content-length": Buffer.byteLength(text),
      "cache-control": "no-store",
    });
    res.end(text);
    return "metrics";
  }

  if (!p.startsWith("/v1/admin/")) throw new HttpFailure(404, "not-found", `no route ${p}`);
  checkAdmin(req);

  const supply = CONSUMER_SUPPLY.exec(p);
  if (supply) {
    only("POST");
    const [, deployment, consumer] = supply as unknown as [string, string, string];
    const body = await readJson(req);
    const amount = decode(() => decodeSupplyRequest(body));
    send(res, 200, await ledger.supply(deployment, consumer, amount, peer));
    return "admin.consumers.supply";
  }

  if (p === "/v1/admin/usage") {
    only("GET");
    const filter = {
      ...(url.searchParams.get("deployment") ? { deployment: url.searchParams.get("deployment")! } : {}),
      ...(url.searchParams.get("consumer") ? { consumer: url.searchParams.get("consumer")! } : {}),
    };
    send(res, 200, { usage: await ledger.usage(filter) });
    return "admin.usage";
  }

  const ownersRoute = OWNERS.exec(p);
  if (ownersRoute) {
    only("POST");
    const body = await readJson(req);
    const request = decode(() => decodeOwnersRequest(body));
    await owners.setOwners(ownersRoute[1]!, request.owners, peer);
    send(res, 201, { model: ownersRoute[1]!, owners: request.owners.map((o) => o.id) });
    return "admin.models.owners";
  }

  const unrevoke = UNREVOKE.exec(p);
  if (unrevoke) {
    only("POST");
    const body = await readJson(req);
    const request = decode(() => decodeUnrevokeRequest(body));
    await owners.unrevoke(unrevoke[1]!, request.approvals, peer);
    send(res, 200, { id: unrevoke[1]!, revoked: false });
    return "admin.deployments.unrevoke";
  }

  const policiesRoute = POLICIES.exec(p);
  if (policiesRoute) {
    only("POST");
    const body = await readJson(req);
    const request = decode(() => decodePolicyChangeRequest(body));
    validatePolicies(request.policies);
    await owners.changePolicies(policiesRoute[1]!, request.policies, request.approvals, peer);
    send(res, 200, { id: policiesRoute[1]!, policies: request.policies.length });
    return "admin.deployments.policies";
  }

  const throttle = THROTTLE.exec(p);
  if (throttle) {
    only("POST");
    const deployment = throttle[1]!;
    const body = await readJson(req);
    const change = decode(() => decodeThrottleRequest(body));
    send(res, 200, { deployment, ...(await ledger.setThrottle(deployment, change, peer)) });
    return "admin.deployments.throttle";
  }

  if (p === "/v1/admin/models") {
    if (method === "GET") {
      send(res, 200, { models: await store.listModels() });
      return "admin.models.list";
    }
    only("POST");
    const body = await readJson(req);
    const m = decode(() => decodeModelAddRequest(body));
    try {
      const outcome = await store.addModel(
        {
          id: m.id,
          plaintextSha256: m.plaintextSha256,
          sealedSha256: m.sealedSha256 ?? null,
          threshold: m.threshold,
          shareIndex: m.shareIndex ?? null,
          secret: m.secret,
        },
        peer,
      );
      send(res, outcome === "created" ? 201 : 200, { id: m.id, created: outcome === "created" });
    } finally {
      m.secret.fill(0);
    }
    return "admin.models.add";
  }

  if (p === "/v1/admin/deployments") {
    if (method === "GET") {
      send(res, 200, { deployments: await store.listDeployments() });
      return "admin.deployments.list";
    }
    only("POST");
    const body = await readJson(req);
    const d = decode(() => decodeDeploymentAddRequest(body));
    validatePolicies(d.policies);
    const outcome = await store.addDeployment({ id: d.id, modelId: d.modelId, policies: d.policies }, peer);
    send(res, outcome === "created" ? 201 : 200, { id: d.id, created: outcome === "created" });
    return "admin.deployments.add";
  }

  const consumers = /^\/v1\/admin\/deployments\/([A-Za-z0-9._-]{1,128})\/consumers$/.exec(p);
  if (consumers) {
    const deployment = consumers[1]!;
    if (method === "GET") {
      if (!(await store.getDeployment(deployment)))
        throw new HttpFailure(404, "not-found", `no deployment ${deployment}`);
      send(res, 200, { consumers: await store.listConsumers(deployment) });
      return "admin.consumers.list";
    }
    only("POST");
    const body = await readJson(req);
    const { id } = decode(() => decodeConsumerAddRequest(body));
    // 256 random bits: the key is shown once, here; the custodian keeps only its SHA-256.
    const apiKey = `vtk_${randomBytes(32).toString("base64url")}`;
    await store.addConsumer(deployment, id, consumerKeyDigest(apiKey), peer);
    send(res, 201, { deployment, id, apiKey });
    return "admin.consumers.add";
  }

  const consumerRevoke =
    /^\/v1\/admin\/deployments\/([A-Za-z0-9._-]{1,128})\/consumers\/([A-Za-z0-9._-]{1,128})\/revoke$/.exec(p);
  if (consumerRevoke) {
    only("POST");
    const [, deployment, id] = consumerRevoke as unknown as [string, string, string];
    if (!(await store.revokeConsumer(deployment, id, peer))) {
      throw new HttpFailure(404, "not-found", `no consumer ${id} of deployment ${deployment}`);
    }
    send(res, 200, { deployment, id, revoked: true });
    return "admin.consumers.revoke";
  }

  const revoke = /^\/v1\/admin\/deployments\/([A-Za-z0-9._-]{1,128})\/revoke$/.exec(p);
  if (revoke) {
    only("POST");
    const id = revoke[1]!;
    if (!(await store.revokeDeployment(id, peer))) throw new HttpFailure(404, "not-found", `no deployment ${id}`);
    send(res, 200, { id, revoked: true });
    return "admin.deployments.revoke";
  }

  if (p === "/v1/admin/audit") {
    only("GET");
    const number = (name: string, fallback: number, max: number) => {
      const text = url.searchParams.get(name);
      if (text === null) return fallback;
      if (!/^\d{1,15}$/.test(text) || Number(text) > max) {
        throw new HttpFailure(400, "invalid-request", `${name} must be an integer 0..${max}`);
      }
      return Number(text);
    };
    const after = number("after", 0, Number.MAX_SAFE_INTEGER);
    const limit = Math.max(1, number("limit", 100, MAX_AUDIT_PAGE));
    send(res, 200, { events: await store.listAudit(after, limit) });
    return "admin.audit";
  }

  throw new HttpFailure(404, "not-found", `no route ${p}`);
}

/**
 * Start the custodian's HTTP API on `host` (default 127.0.0.1) and `port`.
 *
 * @throws CustodyError `invalid-request` for a token shorter than 16 characters.
 */
export async function startCustodianService(options: CustodianServiceOptions): Promise<RunningCustodian> {
  if (options.adminToken.length < 16) {
    throw new CustodyError("invalid-request", "the admin token must be at least 16 characters");
  }
  const expected = digestOf(options.adminToken);
  const store = options.store;
  const clock = options.now ? { now: options.now } : {};
  const ledger = new Ledger(store, clock);
  const release = new ReleaseService(store, ledger, clock);
  const owners = new OwnerControl(store, clock);
  const metrics = new CustodianMetrics();
  const log = options.log ?? (() => undefined);
  const checkAdmin = (req: IncomingMessage) => {
    // The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
    const match = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? "");
    // Both sides hashed: equal lengths for timingSafeEqual, and nothing about the token's length leaks.
    if (!match || !timingSafeEqual(digestOf(match[1]!), expected)) {
      throw new HttpFailure(401, "unauthorized", "a valid admin bearer token is required");
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET";
    dispatch(req, res, { store, ledger, owners, release, metrics, checkAdmin }).then(
      (route) => {
        metrics.request(route, res.statusCode);
        log({ method, route, status: res.statusCode });
      },
      (error: unknown) => {
        let failure: HttpFailure;
        if (error instanceof HttpFailure) failure = error;
        else if (error instanceof CustodyError) {
          failure = new HttpFailure(STATUS[error.code], error.code, error.message, error.claim);
        } else {
          // Unexpected: the message may hold anything, so only a fixed text goes out.
          failure = new HttpFailure(500, "storage", "internal error");
        }
        metrics.request("error", failure.status);
        log({
          method,
          route: new URL(req.url ?? "/", "http://c").pathname,
          status: failure.status,
          code: failure.code,
        });
        if (res.headersSent) {
          res.destroy();
          return;
        }
        // Drain what is left of the request so the client sees the answer, not a reset.
        req.resume();
        send(res, failure.status, {
          error: { code: failure.code, message: failure.message, ...(failure.claim ? { claim: failure.claim } : {}) },
        });
      },
    );
  };
  let server: Server;
  try {
    server = options.tls
      ? createTlsServer(
          { cert: Buffer.from(options.tls.cert), key: Buffer.from(options.tls.key), minVersion: "TLSv1.2" },
          listener,
        )
      : createServer(listener);
  } catch {
    // OpenSSL's message may quote the key's bytes: only a fixed text goes out.
    throw new CustodyError("invalid-request", "the TLS certificate and key do not load (PEM, and a key that matches)");
  }
  server.requestTimeout = 60_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(listenError(error, options.host ?? "127.0.0.1", options.port ?? 0)));
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    url: `${options.tls ? "https" : "http"}://${host}:${address.port}`,
    server,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => store.close());
      return closed;
    },
  };
}
