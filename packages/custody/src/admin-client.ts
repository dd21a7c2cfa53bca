/**
 * A typed client of the custodian's admin API (docs/CUSTODY.md "Custodian
 * API"), used by `veritee custodian …` and `veritee model seal --custodian`,
 * and the admin token's reading: from `$VERITEE_ADMIN_TOKEN` or an
 * owner-only file, never from the command line (where `ps` shows it).
 * Answers are decoded strictly with the protocol's decoders.
 */
import { readFile, stat } from "node:fs/promises";
import { base64Encode, expectArray, expectObject, MalformedError } from "@veritee/core";
import { type CustodyCode, CustodyError } from "./errors.js";
import {
  type Approval,
  type AuditEvent,
  approvalToJson,
  type ConsumerAddResponse,
  type ConsumerInfo,
  decodeAuditEvent,
  decodeConsumerAddResponse,
  decodeConsumerInfo,
  decodeErrorBody,
  decodeModelInfo,
  decodeThrottleSettings,
  decodeUsageRecord,
  type ModelInfo,
  type ThrottleSettings,
  type UsageRecord,
} from "./protocol/index.js";

/** The environment variable holding the admin token. */
export const ADMIN_TOKEN_ENV = "VERITEE_ADMIN_TOKEN";

/**
 * The admin token: from `file` (refused when the group or others may read
 * it), else from `env.VERITEE_ADMIN_TOKEN`.
 *
 * @throws CustodyError `unauthorized` (no token, a token shorter than 16 characters), `invalid-request` (an open file).
 */
export async function readAdminToken(source: { file?: string | undefined; env: NodeJS.ProcessEnv }): Promise<string> {
  let token: string | undefined;
  if (source.file !== undefined) {
    const s = await stat(source.file).catch(() => undefined);
    if (!s?.isFile()) throw new CustodyError("invalid-request", `no admin token file ${source.file}`);
    if ((s.mode & 0o077) !== 0) {
      throw new CustodyError("invalid-request", `${source.file} is readable by others; chmod 600 it`);
    }
    token = (await readFile(source.file, "utf8")).trim();
  } else {
    token = source.env[ADMIN_TOKEN_ENV]?.trim();
  }
  if (!token)
    throw new CustodyError("unauthorized", `no admin token: set ${ADMIN_TOKEN_ENV} or pass --admin-token-file`);
  if (token.length < 16 || /\s/.test(token)) {
    throw new CustodyError("unauthorized", "the admin token must be at least 16 characters, without spaces");
  }
  return token;
}

/** A registration's body (the secret is encoded here and zeroed by the caller). */
export interface AddModel {
  readonly id: string;
  readonly plaintextSha256: string;
  readonly sealedSha256?: string;
  readonly secret: Uint8Array;
  readonly threshold: number;
  readonly shareIndex?: number;
}

const KNOWN: ReadonlySet<string> = new Set<CustodyCode>([
  "refused",
  "revoked",
  "not-found",
  "conflict",
  "invalid-request",
  "unauthorized",
  "storage",
]);

/**
 * Why the admin API must not be reached at `url`, or undefined when it may:
 * the bearer token and, on registration, the model key travel in every
 * request, so plain `http:` is allowed to loopback addresses only; anything
 * else goes through TLS (`https:`, e.g. the owner's proxy in front of the
 * custodian). The release routes need no such rule: their secret is
 * HPKE-sealed to the attested key set.
 */
export function adminTransportProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not a URL";
  }
  if (parsed.protocol === "https:") return undefined;
  if (parsed.protocol !== "http:") return `${parsed.protocol} is not http(s)`;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return undefined;
  return `plain http to ${host} would send the admin token and model keys in clear: use https:// (a TLS proxy in front of the custodian) or a loopback address (an SSH tunnel)`;
}

/** The admin API of one custodian. */
export class AdminClient {
  readonly #base: string;
  readonly #token: string;
  readonly #fetch: typeof fetch;

  /** @throws CustodyError `invalid-request` for a URL the token must not travel to ({@link adminTransportProblem}). */
  constructor(url: string, token: string, options: { fetch?: typeof fetch } = {}) {
    const problem = adminTransportProblem(url);
    if (problem !== undefined) throw new CustodyError("invalid-request", `custodian ${url.slice(0, 200)}: ${problem}`);
    this.#base = url.endsWith("/") ? url : `${url}/`;
    this.#token = token;
    this.#fetch = options.fetch ?? fetch;
  }

  async #call(
    method: "GET" | "POST",
    route: string,
    body?: unknown,
    withToken = true,
  ): Promise<Readonly<Record<string, unknown>>> {
    let response: Response;
    const where = new URL(route, this.#base);
    try {
      response = await this.#fetch(where, {
        method,
        headers: {
          ...(withToken ? { authorization: `Bearer ${this.#token}` } : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: "error",
        signal: AbortSignal.timeout(30_000),
      });
    } catch (cause) {
      // fetch hides the socket's error one level down; a certificate problem deserves its own words.
      const code = String((cause as { cause?: { code?: unknown } }).cause?.code ?? "");
      if (/CERT|SELF_SIGNED|ALTNAME/.test(code)) {
        throw new CustodyError(
          "unreachable",
          `the custodian at ${where.host} presents a TLS certificate this machine does not trust (${code.slice(0, 64)}); for a private CA, set NODE_EXTRA_CA_CERTS to its certificate`,
          { cause },
        );
      }
      throw new CustodyError("unreachable", `the custodian at ${where.host} cannot be reached`, { cause });
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch (cause) {
      throw new CustodyError("bad-response", `the custodian answered HTTP ${response.status} without JSON`, { cause });
    }
    if (!response.ok) {
      let code: CustodyCode = response.status >= 500 ? "storage" : "invalid-request";
      let message = `HTTP ${response.status}`;
      let claim: string | undefined;
      try {
        const e = decodeErrorBody(json);
        if (KNOWN.has(e.code)) code = e.code as CustodyCode;
        message = e.message;
        claim = e.claim;
      } catch {
        // The status says enough.
      }
      throw new CustodyError(
        code,
        `the custodian refused: ${message}${claim ? ` (failed claim ${claim})` : ""}`,
        claim ? { claim } : {},
      );
    }
    try {
      return expectObject(json, "answer");
    } catch (cause) {
      throw new CustodyError("bad-response", "the custodian's answer is not a JSON object", { cause });
    }
  }

  /** Register a key or share; true when created, false when it was there already (same contents). */
  async addModel(model: AddModel): Promise<boolean> {
    const body: Record<string, unknown> = {
      id: model.id,
      plaintextSha256: model.plaintextSha256,
      secret: base64Encode(model.secret),
      threshold: model.threshold,
      ...(model.sealedSha256 !== undefined ? { sealedSha256: model.sealedSha256 } : {}),
      ...(model.shareIndex !== undefined ? { shareIndex: model.shareIndex } : {}),
    };
    return (await this.#call("POST", "v1/admin/models", body)).created === true;
  }

  async listModels(): Promise<ModelInfo[]> {
    const list = this.#list(await this.#call("GET", "v1/admin/models"), "models");
    return this.#decode(() => list.map(decodeModelInfo), "a model");
  }

  /** Register a deployment with its policies (parsed JSON documents); true when created. */
  async addDeployment(id: string, modelId: string, policies: readonly unknown[]): Promise<boolean> {
    return (await this.#call("POST", "v1/admin/deployments", { id, modelId, policies })).created === true;
  }

  async listDeployments(): Promise<readonly unknown[]> {
    return this.#list(await this.#call("GET", "v1/admin/deployments"), "deployments");
  }

  async revoke(deployment: string): Promise<void> {
    await this.#call("POST", `v1/admin/deployments/${encodeURIComponent(deployment)}/revoke`, {});
  }

  /** Register a consumer of a deployment; the answer holds its API key, which nobody can see again. */
  async addConsumer(deployment: string, id: string): Promise<ConsumerAddResponse> {
    const body = await this.#call("POST", `v1/admin/deployments/${encodeURIComponent(deployment)}/consumers`, { id });
    return this.#decode(() => decodeConsumerAddResponse(body), "the consumer registration");
  }

  async listConsumers(deployment: string): Promise<ConsumerInfo[]> {
    const list = this.#list(
      await this.#call("GET", `v1/admin/deployments/${encodeURIComponent(deployment)}/consumers`),
      "consumers",
    );
    return this.#decode(() => list.map(decodeConsumerInfo), "a consumer");
  }

  async revokeConsumer(deployment: string, id: string): Promise<void> {
    await this.#call(
      "POST",
      `v1/admin/deployments/${encodeURIComponent(deployment)}/consumers/${encodeURIComponent(id)}/revoke`,
      {},
    );
  }

  /** Add to a consumer's quota (BlindAI DRM's `supply_inferences`): its quota and use after. */
  async supply(
    deployment: string,
    consumer: string,
    amount: { readonly inferences?: number; readonly tokens?: number },
    approvals: readonly Approval[] = [],
  ): Promise<UsageRecord> {
    const body = await this.#call(
      "POST",
      `v1/admin/deployments/${encodeURIComponent(deployment)}/consumers/${encodeURIComponent(consumer)}/supply`,
      { ...amount, ...(approvals.length ? { approvals: approvals.map(approvalToJson) } : {}) },
    );
    return this.#decode(() => decodeUsageRecord(body), "the quota");
  }

  /** Quotas and use, by deployment and consumer. */
  async usage(filter: { readonly deployment?: string; readonly consumer?: string } = {}): Promise<UsageRecord[]> {
    const query = new URLSearchParams();
    if (filter.deployment !== undefined) query.set("deployment", filter.deployment);
    if (filter.consumer !== undefined) query.set("consumer", filter.consumer);
    const q = query.toString();
    const list = this.#list(await this.#call("GET", `v1/admin/usage${q ? `?${q}` : ""}`), "usage");
    return this.#decode(() => list.map(decodeUsageRecord), "a usage record");
  }

  /** The slow-down switch and the lease length of a deployment (null clears a cap). */
  async throttle(
    deployment: string,
    change: {
      readonly tokensPerSecond?: number | null;
      readonly requestsPerMinute?: number | null;
      readonly leaseMs?: number;
    },
  ): Promise<ThrottleSettings> {
    const body = await this.#call("POST", `v1/admin/deployments/${encodeURIComponent(deployment)}/throttle`, change);
    return this.#decode(() => decodeThrottleSettings(body), "the throttle");
  }

  /** Revoke on one owner's approval: sent without the admin token, which an owner need not hold. */
  async ownerRevoke(approval: Approval): Promise<void> {
    await this.#call("POST", "v1/owner/revoke", { approval: approvalToJson(approval) }, false);
  }

  /** Register a model's owners' keys (once). */
  async setOwners(modelId: string, owners: readonly { id: string; publicKey: Uint8Array }[]): Promise<void> {
    await this.#call("POST", `v1/admin/models/${encodeURIComponent(modelId)}/owners`, {
      owners: owners.map((o) => ({ id: o.id, publicKey: base64Encode(o.publicKey) })),
    });
  }

  /** Lift a deployment's revocation (k owners' approvals for a k-of-n model). */
  async unrevoke(deployment: string, approvals: readonly Approval[] = []): Promise<void> {
    await this.#call("POST", `v1/admin/deployments/${encodeURIComponent(deployment)}/unrevoke`, {
      ...(approvals.length ? { approvals: approvals.map(approvalToJson) } : {}),
    });
  }

  /** Replace a deployment's policies (k owners' approvals of their digest for a k-of-n model). */
  async changePolicies(
    deployment: string,
    policies: readonly unknown[],
    approvals: readonly Approval[] = [],
  ): Promise<void> {
    await this.#call("POST", `v1/admin/deployments/${encodeURIComponent(deployment)}/policies`, {
      policies,
      ...(approvals.length ? { approvals: approvals.map(approvalToJson) } : {}),
    });
  }

  #decode<T>(run: () => T, what: string): T {
    try {
      return run();
    } catch (cause) {
      const detail = cause instanceof MalformedError ? cause.message : "malformed";
      throw new CustodyError("bad-response", `${what} does not decode: ${detail}`, { cause });
    }
  }

  /** Audit events after `after`, oldest first, all of them (paged). */
  async audit(after = 0): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    for (let from = after; ; ) {
      const page = this.#list(await this.#call("GET", `v1/admin/audit?after=${from}&limit=1000`), "events");
      events.push(...this.#decode(() => page.map(decodeAuditEvent), "an audit event"));
      if (page.length < 1000) return events;
      from = events[events.length - 1]!.seq;
    }
  }

  #list(answer: Readonly<Record<string, unknown>>, name: string): readonly unknown[] {
    try {
      return expectArray(answer[name], name, 1_000_000);
    } catch (cause) {
      throw new CustodyError("bad-response", `the custodian's answer has no ${name} list`, { cause });
    }
  }
}
