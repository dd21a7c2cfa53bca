/**
 * `veritee custodian …` (docs/CUSTODY.md "The custodian"): the model owner's
 * custodian service and its admin commands. The admin token comes from
 * `$VERITEE_ADMIN_TOKEN` or `--admin-token-file` (an owner-only file),
 * never from the command line, where `ps` would show it.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import {
  AdminClient,
  APPROVAL_ACTIONS,
  type Approval,
  type ApprovalAction,
  type ApprovalParams,
  type AuditEvent,
  adminTransportProblem,
  approvalFromText,
  approvalToText,
  MAX_APPROVAL_SECONDS,
  policiesDigest,
  readAdminToken,
  readKeyFile,
  readOwnerKey,
  signApproval,
  type UsageRecord,
  writeOwnerKey,
} from "@veritee/custody";
import { type CustodianStore, openSqliteStore, startCustodianService } from "@veritee/custody/custodian";
import { parsePolicyJson } from "@veritee/policy";
import type { Command } from "commander";
import { CliError } from "../cli-error.js";
import { positiveInteger } from "../client-session.js";
import { out, parsePort } from "../io.js";

interface AdminFlags {
  custodian: string;
  adminTokenFile?: string;
}

/** `--custodian`: an https URL, or http to loopback only (the token and keys must not cross a network in clear). */
function custodianUrl(value: string): string {
  const problem = adminTransportProblem(value);
  if (problem !== undefined) throw new CliError("bad-argument", `--custodian: ${problem}`);
  return value;
}

async function client(flags: AdminFlags): Promise<AdminClient> {
  const token = await readAdminToken({ file: flags.adminTokenFile, env: process.env });
  return new AdminClient(custodianUrl(flags.custodian), token);
}

function adminOptions(command: Command): Command {
  return command
    .requiredOption("--custodian <url>", "the custodian's URL (admin token: $VERITEE_ADMIN_TOKEN)")
    .option("--admin-token-file <file>", "read the admin token from FILE (owner-only) instead of $VERITEE_ADMIN_TOKEN");
}

/** The store for `--data DIR`: PostgreSQL when $DATABASE_URL is set, else SQLite in DIR. */
async function openStore(dir: string): Promise<CustodianStore> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const { openPostgresStore } = await import("@veritee/custody/custodian");
    return openPostgresStore(url);
  }
  return openSqliteStore(path.resolve(dir));
}

interface ServeFlags {
  data: string;
  port: number;
  host: string;
  adminTokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** `--tls-cert` and `--tls-key` together (the key owner-only), or neither. */
async function readTls(opts: ServeFlags): Promise<{ cert: Uint8Array; key: Uint8Array } | undefined> {
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
    throw new CliError("bad-argument", "--tls-cert and --tls-key go together");
  }
  if (opts.tlsCert === undefined || opts.tlsKey === undefined) return undefined;
  const read = async (file: string, option: string, secret: boolean) => {
    const s = await stat(file).catch(() => undefined);
    if (!s?.isFile()) throw new CliError("file-not-found", `${option}: no such file: ${file}`);
    if (secret && (s.mode & 0o077) !== 0) {
      throw new CliError("bad-argument", `${option}: ${file} is readable by others; chmod 600 it`);
    }
    return new Uint8Array(await readFile(file));
  };
  return { cert: await read(opts.tlsCert, "--tls-cert", false), key: await read(opts.tlsKey, "--tls-key", true) };
}

async function serve(opts: ServeFlags): Promise<void> {
  const adminToken = await readAdminToken({ file: opts.adminTokenFile, env: process.env });
  const tls = await readTls(opts);
  const store = await openStore(opts.data);
  const running = await startCustodianService({
    store,
    adminToken,
    host: opts.host,
    port: opts.port,
    ...(tls ? { tls } : {}),
    // One line per request: route, status, error code. Never a body.
    log: (e) => process.stderr.write(`${JSON.stringify({ at: new Date().toISOString(), ...e })}\n`),
  });
  out(`veritee custodian listening on ${running.url} (${store.engine} store)`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void running.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

function printAudit(events: readonly AuditEvent[]): void {
  out("seq  time                      event             deployment        model             detail");
  for (const e of events) {
    const detail = [
      e.consumer ? `consumer ${e.consumer}` : "",
      e.claim ? `claim ${e.claim}` : "",
      e.reason ?? "",
      e.peer ? `from ${e.peer}` : "",
    ]
      .filter((x) => x !== "")
      .join("; ");
    out(
      `${String(e.seq).padEnd(4)} ${e.at.padEnd(25)} ${e.type.padEnd(17)} ${(e.deployment ?? "-").padEnd(17)} ${(e.model ?? "-").padEnd(17)} ${detail}`,
    );
  }
}

/** `veritee custodian …` */
export function registerCustodian(program: Command): void {
  const custodian = program
    .command("custodian")
    .description("the model owner's custodian: sealed-model keys, deployments and their policies, the audit trail");

  custodian
    .command("serve")
    .description(
      "run the custodian's HTTP API: admin routes behind the bearer token, key release to attested servers; state in SQLite in DIR, or PostgreSQL when $DATABASE_URL is set",
    )
    .requiredOption("--data <dir>", "the data directory (custodian.db, created 0700)")
    .option("--port <n>", "port (0: any free port)", parsePort, 7300)
    .option("--host <host>", "interface to bind (the admin API may sit behind your own TLS proxy)", "127.0.0.1")
    .option("--admin-token-file <file>", "read the admin token from FILE (owner-only) instead of $VERITEE_ADMIN_TOKEN")
    .option("--tls-cert <pem>", "serve HTTPS with this certificate chain (PEM; with --tls-key)")
    .option("--tls-key <pem>", "the certificate's private key (PEM, owner-only file)")
    .action(serve);

  const model = custodian.command("model").description("model keys held by a custodian");
  adminOptions(
    model
      .command("add")
      .description(
        "register a model's key (or this owner's share) from a key file written by veritee model seal --key-out",
      )
      .requiredOption("--key-file <file>", "the key file (mode 0600)"),
  ).action(async (opts: AdminFlags & { keyFile: string }) => {
    const key = await readKeyFile(opts.keyFile);
    try {
      const created = await (await client(opts)).addModel({
        id: key.modelId,
        plaintextSha256: key.plaintextSha256,
        secret: key.secret,
        threshold: key.threshold,
        ...(key.shareIndex !== undefined ? { shareIndex: key.shareIndex } : {}),
      });
      out(
        `${created ? "registered" : "already registered"}: model ${key.modelId}${key.shareIndex ? ` (share ${key.shareIndex} of a ${key.threshold}-of-n key)` : ""}`,
      );
    } finally {
      key.secret.fill(0);
    }
  });
  adminOptions(
    model.command("list").description("list the registered models (never their keys)").option("--json", "print JSON"),
  ).action(async (opts: AdminFlags & { json?: boolean }) => {
    const models = await (await client(opts)).listModels();
    if (opts.json) {
      out(JSON.stringify({ models }, null, 2));
      return;
    }
    for (const m of models) {
      const share = m.shareIndex === null ? "key" : `share ${m.shareIndex} of a ${m.threshold}-of-n key`;
      out(`${m.id}  ${share}  plaintext sha256 ${m.plaintextSha256}  since ${m.createdAt}`);
    }
  });

  const deployment = custodian.command("deployment").description("deployments: which model, under which policies");
  adminOptions(
    deployment
      .command("add")
      .description(
        "register a deployment of a model with the policies its servers must satisfy (one per replica configuration, e.g. from veritee measure --sealed-model … --write-policy)",
      )
      .requiredOption("--id <id>", "the deployment id servers name with --deployment")
      .requiredOption("--model-id <id>", "the registered model it serves")
      .requiredOption("--policy <file>", "a policy file (repeatable)", (v: string, p: string[] = []) => [...p, v]),
  ).action(async (opts: AdminFlags & { id: string; modelId: string; policy: string[] }) => {
    const policies = await readPolicies(opts.policy);
    const created = await (await client(opts)).addDeployment(opts.id, opts.modelId, policies);
    out(
      `${created ? "registered" : "already registered"}: deployment ${opts.id} of model ${opts.modelId} (${policies.length} ${policies.length === 1 ? "policy" : "policies"})`,
    );
  });
  adminOptions(
    deployment
      .command("set-policy")
      .description(
        "replace a deployment's policies (servers' next releases are checked against them); a k-of-n model needs k owners' approvals (custodian approve --action policy --policy …)",
      )
      .requiredOption("--id <id>", "the deployment")
      .requiredOption("--policy <file>", "a policy file (repeatable)", (v: string, p: string[] = []) => [...p, v])
      .option("--approval <text>", "an owner's approval of exactly these policies (repeatable)", collect, []),
  ).action(async (opts: AdminFlags & { id: string; policy: string[]; approval: string[] }) => {
    const policies = await readPolicies(opts.policy);
    await (await client(opts)).changePolicies(opts.id, policies, approvals(opts.approval));
    out(`policies of ${opts.id}: ${policies.length} ${policies.length === 1 ? "policy" : "policies"}`);
  });
  adminOptions(deployment.command("list").description("list the deployments").option("--json", "print JSON")).action(
    async (opts: AdminFlags & { json?: boolean }) => {
      const list = (await (await client(opts)).listDeployments()) as {
        id: string;
        modelId: string;
        revoked: boolean;
      }[];
      if (opts.json) out(JSON.stringify({ deployments: list }, null, 2));
      else for (const d of list) out(`${d.id}  model ${d.modelId}${d.revoked ? "  REVOKED" : ""}`);
    },
  );

  const consumer = custodian
    .command("consumer")
    .description("a deployment's consumers and their API keys (the custodian keeps only their SHA-256)");
  adminOptions(
    consumer
      .command("add")
      .description("register a consumer of a deployment; its new API key is the last line of the output (shown once)")
      .requiredOption("--deployment <id>", "the deployment")
      .requiredOption("--id <id>", "the consumer's id (1-128 of A-Z a-z 0-9 . _ -)"),
  ).action(async (opts: AdminFlags & { deployment: string; id: string }) => {
    const added = await (await client(opts)).addConsumer(opts.deployment, opts.id);
    out(`registered: consumer ${added.id} of deployment ${added.deployment}; its API key (not shown again):`);
    out(added.apiKey);
  });
  adminOptions(
    consumer
      .command("list")
      .description("list a deployment's consumers (never their keys)")
      .requiredOption("--deployment <id>", "the deployment")
      .option("--json", "print JSON"),
  ).action(async (opts: AdminFlags & { deployment: string; json?: boolean }) => {
    const list = await (await client(opts)).listConsumers(opts.deployment);
    if (opts.json) out(JSON.stringify({ consumers: list }, null, 2));
    else for (const c of list) out(`${c.id}  since ${c.createdAt}${c.revokedAt ? `  REVOKED ${c.revokedAt}` : ""}`);
  });
  adminOptions(
    consumer
      .command("revoke")
      .description("revoke a consumer's API key")
      .requiredOption("--deployment <id>", "the deployment")
      .requiredOption("--id <id>", "the consumer"),
  ).action(async (opts: AdminFlags & { deployment: string; id: string }) => {
    await (await client(opts)).revokeConsumer(opts.deployment, opts.id);
    out(`revoked: consumer ${opts.id} of deployment ${opts.deployment}`);
  });

  custodian
    .command("revoke")
    .description(
      "the kill switch: revoke a deployment (every server stops serving it within its lease + 1 s and gets no key again), or with --consumer one consumer's API key; with --owner-key, one owner of a k-of-n model revokes on its own signature, without the admin token",
    )
    .requiredOption("--custodian <url>", "the custodian's URL (admin token: $VERITEE_ADMIN_TOKEN, unless --owner-key)")
    .option("--admin-token-file <file>", "read the admin token from FILE (owner-only) instead of $VERITEE_ADMIN_TOKEN")
    .requiredOption("--deployment <id>", "the deployment")
    .option("--consumer <id>", "revoke only this consumer (as consumer revoke --id)")
    .option("--owner-key <file>", "revoke as this owner (its key from custodian owner keygen; with --owner)")
    .option("--owner <id>", "the owner's id, as registered with custodian owner set")
    .action(async (opts: AdminFlags & { deployment: string; consumer?: string; ownerKey?: string; owner?: string }) => {
      if ((opts.ownerKey === undefined) !== (opts.owner === undefined)) {
        throw new CliError("bad-argument", "--owner-key and --owner go together");
      }
      if (opts.ownerKey !== undefined) {
        if (opts.consumer !== undefined)
          throw new CliError("bad-argument", "--owner-key revokes a deployment, not a consumer");
        const key = await readOwnerKey(opts.ownerKey);
        const approval = signApproval(key, opts.owner!, "revoke", opts.deployment, {}, { validSeconds: 300 });
        await new AdminClient(custodianUrl(opts.custodian), "").ownerRevoke(approval);
        out(`revoked: deployment ${opts.deployment}, by owner ${opts.owner}`);
        return;
      }
      const admin = await client(opts);
      if (opts.consumer !== undefined) {
        await admin.revokeConsumer(opts.deployment, opts.consumer);
        out(`revoked: consumer ${opts.consumer} of deployment ${opts.deployment}`);
        return;
      }
      await admin.revoke(opts.deployment);
      out(`revoked: deployment ${opts.deployment}`);
    });

  adminOptions(
    custodian
      .command("unrevoke")
      .description(
        "lift a deployment's revocation (servers attest again by themselves); a k-of-n model needs k owners' approvals (custodian approve --action unrevoke)",
      )
      .requiredOption("--deployment <id>", "the deployment")
      .option("--approval <text>", "an owner's approval (repeatable)", collect, []),
  ).action(async (opts: AdminFlags & { deployment: string; approval: string[] }) => {
    await (await client(opts)).unrevoke(opts.deployment, approvals(opts.approval));
    out(`revocation lifted: deployment ${opts.deployment}`);
  });

  const owner = custodian.command("owner").description("a k-of-n model's owners and their keys (multi-party control)");
  owner
    .command("keygen")
    .description("make an owner key (Ed25519, mode 0600); its public key is the last line of the output")
    .requiredOption("--out <file>", "the new key file (never replaced)")
    .action(async (opts: { out: string }) => {
      const publicKey = await writeOwnerKey(opts.out);
      out(`owner key written to ${opts.out} (mode 0600); its public key, for custodian owner set --owner NAME=KEY:`);
      out(Buffer.from(publicKey).toString("base64"));
    });
  adminOptions(
    owner
      .command("set")
      .description(
        "register a model's owners' public keys, once: from then on a k-of-n model's quota, revocation lifting and policy changes need k owners' approvals",
      )
      .requiredOption("--model-id <id>", "the registered model")
      .requiredOption("--owner <name=key>", "an owner's id and public key (repeatable)", collect, []),
  ).action(async (opts: AdminFlags & { modelId: string; owner: string[] }) => {
    const owners = opts.owner.map((spec) => {
      const at = spec.indexOf("=");
      if (at < 1) throw new CliError("bad-argument", "--owner takes NAME=PUBLIC_KEY (from custodian owner keygen)");
      const publicKey = Buffer.from(spec.slice(at + 1), "base64");
      if (publicKey.length !== 44 || publicKey.toString("base64") !== spec.slice(at + 1)) {
        throw new CliError(
          "bad-argument",
          `--owner ${spec.slice(0, at)}: not a public key printed by custodian owner keygen`,
        );
      }
      return { id: spec.slice(0, at), publicKey: new Uint8Array(publicKey) };
    });
    await (await client(opts)).setOwners(opts.modelId, owners);
    out(`owners of model ${opts.modelId}: ${owners.map((o) => o.id).join(", ")}`);
  });

  custodian
    .command("approve")
    .description(
      "sign an owner's approval of one action on a k-of-n model's deployment; the approval (vta_…) is the last line, for --approval",
    )
    .requiredOption("--owner-key <file>", "the owner's key (custodian owner keygen)")
    .requiredOption("--owner <id>", "the owner's id, as registered")
    .requiredOption("--action <action>", "supply, unrevoke, policy or revoke")
    .requiredOption("--deployment <id>", "the deployment")
    .option("--consumer <id>", "supply: the consumer")
    .option("--inferences <n>", "supply: inferences, exactly as supply will be given them")
    .option("--tokens <n>", "supply: tokens, exactly as supply will be given them")
    .option("--policy <file>", "policy: the new policy files, in order (repeatable)", collect, [])
    .option("--valid-seconds <n>", "how long the approval is good for (up to a week)", "600")
    .action(
      async (opts: {
        ownerKey: string;
        owner: string;
        action: string;
        deployment: string;
        consumer?: string;
        inferences?: string;
        tokens?: string;
        policy: string[];
        validSeconds: string;
      }) => {
        if (!(APPROVAL_ACTIONS as readonly string[]).includes(opts.action)) {
          throw new CliError("bad-argument", `--action must be one of ${APPROVAL_ACTIONS.join(", ")}`);
        }
        const action = opts.action as ApprovalAction;
        let params: ApprovalParams = {};
        if (action === "supply") {
          if (opts.consumer === undefined || (opts.inferences === undefined && opts.tokens === undefined)) {
            throw new CliError("bad-argument", "--action supply takes --consumer and --inferences and/or --tokens");
          }
          params = {
            consumer: opts.consumer,
            ...(opts.inferences !== undefined
              ? { inferences: positiveInteger(opts.inferences, "--inferences", MAX_SUPPLY) }
              : {}),
            ...(opts.tokens !== undefined ? { tokens: positiveInteger(opts.tokens, "--tokens", MAX_SUPPLY) } : {}),
          };
        } else if (action === "policy") {
          if (opts.policy.length === 0) throw new CliError("bad-argument", "--action policy takes --policy FILE…");
          params = { policiesSha256: policiesDigest(await readPolicies(opts.policy)) };
        }
        const key = await readOwnerKey(opts.ownerKey);
        const approval = signApproval(key, opts.owner, action, opts.deployment, params, {
          validSeconds: positiveInteger(opts.validSeconds, "--valid-seconds", MAX_APPROVAL_SECONDS),
        });
        out(`approved by ${opts.owner}: ${action} on ${opts.deployment}, until ${approval.payload.notAfter}:`);
        out(approvalToText(approval));
      },
    );

  adminOptions(
    custodian
      .command("supply")
      .description("add to a consumer's quota: inferences, tokens (prompt + completion) or both")
      .requiredOption("--deployment <id>", "the deployment")
      .requiredOption("--consumer <id>", "the consumer")
      .option("--inferences <n>", "inferences to add")
      .option("--tokens <n>", "tokens to add")
      .option(
        "--approval <text>",
        "an owner's approval of exactly this supply, for a k-of-n model (repeatable)",
        collect,
        [],
      ),
  ).action(
    async (
      opts: AdminFlags & {
        deployment: string;
        consumer: string;
        inferences?: string;
        tokens?: string;
        approval: string[];
      },
    ) => {
      if (opts.inferences === undefined && opts.tokens === undefined) {
        throw new CliError("bad-argument", "give --inferences N, --tokens N or both");
      }
      const amount = {
        ...(opts.inferences !== undefined
          ? { inferences: positiveInteger(opts.inferences, "--inferences", MAX_SUPPLY) }
          : {}),
        ...(opts.tokens !== undefined ? { tokens: positiveInteger(opts.tokens, "--tokens", MAX_SUPPLY) } : {}),
      };
      const record = await (await client(opts)).supply(
        opts.deployment,
        opts.consumer,
        amount,
        approvals(opts.approval),
      );
      out(`supplied: consumer ${record.consumer} of deployment ${record.deployment}; ${remainingText(record)}`);
    },
  );

  adminOptions(
    custodian
      .command("usage")
      .description("what each consumer used and has left (requests, prompt and completion tokens)")
      .option("--deployment <id>", "only this deployment")
      .option("--consumer <id>", "only this consumer")
      .option("--json", "print JSON"),
  ).action(async (opts: AdminFlags & { deployment?: string; consumer?: string; json?: boolean }) => {
    const records = await (await client(opts)).usage({
      ...(opts.deployment !== undefined ? { deployment: opts.deployment } : {}),
      ...(opts.consumer !== undefined ? { consumer: opts.consumer } : {}),
    });
    if (opts.json) {
      out(JSON.stringify({ usage: records }, null, 2));
      return;
    }
    if (records.length === 0) out("no consumers");
    for (const r of records) {
      out(
        `${r.deployment}/${r.consumer}${r.revoked ? " REVOKED" : ""}  requests ${r.requests}  prompt tokens ${r.promptTokens}  completion tokens ${r.completionTokens}  ${remainingText(r)}`,
      );
    }
  });

  adminOptions(
    custodian
      .command("throttle")
      .description(
        "the slow-down switch: cap a deployment's generation speed and each consumer's request rate (servers apply it at their next lease renewal); 'none' lifts a cap",
      )
      .requiredOption("--deployment <id>", "the deployment")
      .option(
        "--tokens-per-second <n>",
        "tokens per second for the whole deployment on each server, shared by its streams, or none",
      )
      .option(
        "--requests-per-minute <n>",
        "requests per minute per consumer on each server (429 with Retry-After beyond), or none",
      )
      .option("--lease-seconds <n>", "the lease length servers hold, 1..3600 (10 until set)"),
  ).action(
    async (
      opts: AdminFlags & {
        deployment: string;
        tokensPerSecond?: string;
        requestsPerMinute?: string;
        leaseSeconds?: string;
      },
    ) => {
      const cap = (value: string | undefined, option: string) =>
        value === undefined ? {} : value === "none" ? null : positiveInteger(value, option, 1_000_000);
      const change = {
        ...(opts.tokensPerSecond !== undefined
          ? { tokensPerSecond: cap(opts.tokensPerSecond, "--tokens-per-second") as number | null }
          : {}),
        ...(opts.requestsPerMinute !== undefined
          ? { requestsPerMinute: cap(opts.requestsPerMinute, "--requests-per-minute") as number | null }
          : {}),
        ...(opts.leaseSeconds !== undefined
          ? { leaseMs: positiveInteger(opts.leaseSeconds, "--lease-seconds", 3600) * 1000 }
          : {}),
      };
      if (Object.keys(change).length === 0) {
        throw new CliError("bad-argument", "give --tokens-per-second, --requests-per-minute or --lease-seconds");
      }
      const t = await (await client(opts)).throttle(opts.deployment, change);
      out(
        `throttle of ${t.deployment}: tokens per second ${t.tokensPerSecond ?? "none"}, requests per minute ${t.requestsPerMinute ?? "none"}, lease ${t.leaseMs / 1000} s (servers apply it at their next renewal)`,
      );
    },
  );

  adminOptions(
    custodian
      .command("audit")
      .description(
        "print the audit trail: registrations, releases, refusals (with the deployment and the failed claim), revocations",
      )
      .option("--json", 'print {"events": […]}')
      .option("--after <seq>", "only events after this sequence number (default: 0)"),
  ).action(async (opts: AdminFlags & { json?: boolean; after?: string }) => {
    const after = opts.after === undefined ? 0 : Number(opts.after);
    if (!Number.isSafeInteger(after) || after < 0)
      throw new CliError("bad-argument", "--after must be a sequence number");
    const events = await (await client(opts)).audit(after);
    if (opts.json) out(JSON.stringify({ events }, null, 2));
    else printAudit(events);
  });
}

/** The most one supply adds (2^53 − 1: exact in JSON). */
const MAX_SUPPLY = Number.MAX_SAFE_INTEGER;

function remainingText(r: UsageRecord): string {
  const part = (left: number | null, name: string) => (left === null ? `${name} unlimited` : `${left} ${name} left`);
  if (r.inferencesSupplied === null && r.tokensSupplied === null)
    return "no quota supplied yet: no requests are served";
  return `${part(r.inferencesRemaining, "inferences")}, ${part(r.tokensRemaining, "tokens")}`;
}

/** A repeatable option's values. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--approval` texts, decoded (a malformed one is a usage error). */
function approvals(texts: readonly string[]): Approval[] {
  return texts.map((text, i) => {
    try {
      return approvalFromText(text.trim());
    } catch {
      throw new CliError("bad-argument", `--approval ${i + 1}: not an approval printed by custodian approve`);
    }
  });
}

/** Policy files, validated, as the JSON values the custodian stores. */
async function readPolicies(files: readonly string[]): Promise<unknown[]> {
  const policies: unknown[] = [];
  for (const file of files) {
    let text: Uint8Array;
    try {
      text = new Uint8Array(await readFile(file));
    } catch {
      throw new CliError("file-not-found", `--policy: cannot read ${file}`);
    }
    // Validated here for a clear error; the custodian validates again.
    parsePolicyJson(text);
    policies.push(JSON.parse(new TextDecoder().decode(text)));
  }
  return policies;
}
