/**
 * The custodian's Prometheus counters (text format 0.0.4): requests by
 * route and status, lease renewals by the status they answered, refused
 * renewals by the claim that failed. Counts only: no consumer, key or
 * usage figure of anyone appears here (usage is the ledger's, behind the
 * admin token).
 */

/** Counters of one custodian process. */
export class CustodianMetrics {
  readonly #requests = new Map<string, number>();
  readonly #renewals = new Map<string, number>();
  readonly #refused = new Map<string, number>();

  request(route: string, status: number): void {
    bump(this.#requests, `route="${route}",status="${status}"`);
  }

  renewal(status: string): void {
    bump(this.#renewals, `status="${status}"`);
  }

  refusedRenewal(claim: string): void {
    bump(this.#refused, `claim="${claim.replace(/[^A-Za-z0-9._-]/g, "_")}"`);
  }

  render(): string {
    return [
      family("veritee_custodian_requests_total", "Requests by route and status.", this.#requests),
      family("veritee_custodian_lease_renewals_total", "Lease renewals answered, by lease status.", this.#renewals),
      family("veritee_custodian_lease_refusals_total", "Lease renewals refused, by failed claim.", this.#refused),
    ].join("");
  }
}

function bump(map: Map<string, number>, labels: string): void {
  map.set(labels, (map.get(labels) ?? 0) + 1);
}

function family(name: string, help: string, values: Map<string, number>): string {
  let text = `# HELP ${name} ${help}\n# TYPE ${name} counter\n`;
  for (const [labels, value] of [...values].sort(([a], [b]) => a.localeCompare(b))) {
    text += `${name}{${labels}} ${value}\n`;
  }
  return text;
}
