/**
 * Server metrics in the Prometheus text exposition format (version 0.0.4).
 * Label values are only ever route templates, status codes, model ids from the
 * engine's own list and fixed reason names — never anything a client sent, so
 * that `/metrics` can be scraped by anyone who operates the host without
 * learning about requests.
 */

/** Why a request was turned away before reaching the engine or by it. */
export type RejectionReason =
  | "concurrency"
  | "engine-busy"
  | "shutting-down"
  | "body-too-large"
  | "timeout"
  | "insufficient-quota"
  | "model-unavailable"
  | "rate-limited";

/** Latency buckets in seconds: from a cached `/v1/models` to a long generation. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Time-to-first-token buckets in seconds. */
const TTFT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

/** Escape a label value (Prometheus text format: backslash, quote, newline). */
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

function labels(pairs: readonly (readonly [string, string])[]): string {
  return pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(n);
}

interface ModelCounters {
  promptTokens: number;
  completionTokens: number;
  generationSeconds: number;
  generations: number;
  lastTokensPerSecond: number;
  embeddingInputs: number;
  ttft: Histogram;
}

/**
 * The counters, gauges and histograms of one HTTP handler. The handler feeds
 * it; `render()` produces the `/metrics` body.
 */
export class Metrics {
  /** Per route template: request counts by status, and the latency histogram. */
  readonly #routes = new Map<string, { byStatus: Map<number, number>; latency: Histogram }>();
  readonly #rejections = new Map<RejectionReason, number>();
  readonly #models = new Map<string, ModelCounters>();
  readonly #collectors: (() => string)[] = [];
  #inFlight = 0;

  /** Add metric families rendered after these (Prometheus text lines, each ending in a newline). */
  addCollector(render: () => string): void {
    this.#collectors.push(render);
  }

  /** A request started (the in-flight gauge). */
  requestStarted(): void {
    this.#inFlight++;
  }

  /**
   * A request ended. `route` is the route template ("/v1/models/{id}") or
   * "unmatched"; `status` is the HTTP status, or 499 when the client left first.
   */
  requestEnded(route: string, status: number, seconds: number): void {
    this.#inFlight--;
    let entry = this.#routes.get(route);
    if (!entry) {
      entry = { byStatus: new Map(), latency: new Histogram(LATENCY_BUCKETS) };
      this.#routes.set(route, entry);
    }
    entry.byStatus.set(status, (entry.byStatus.get(status) ?? 0) + 1);
    entry.latency.observe(seconds);
  }

  /** A request was turned away. */
  rejected(reason: RejectionReason): void {
    this.#rejections.set(reason, (this.#rejections.get(reason) ?? 0) + 1);
  }

  #model(model: string): ModelCounters {
    let counters = this.#models.get(model);
    if (!counters) {
      counters = {
        promptTokens: 0,
        completionTokens: 0,
        generationSeconds: 0,
        generations: 0,
        lastTokensPerSecond: 0,
        embeddingInputs: 0,
        ttft: new Histogram(TTFT_BUCKETS),
      };
      this.#models.set(model, counters);
    }
    return counters;
  }

  /** The first generated text of a generation arrived after `seconds`. */
  firstToken(model: string, seconds: number): void {
    this.#model(model).ttft.observe(seconds);
  }

  /** A generation finished: its token counts and the time spent generating. */
  generation(model: string, promptTokens: number, completionTokens: number, seconds: number): void {
    const m = this.#model(model);
    m.promptTokens += promptTokens;
    m.completionTokens += completionTokens;
    m.generationSeconds += seconds;
    m.generations++;
    if (seconds > 0) m.lastTokensPerSecond = completionTokens / seconds;
  }

  /** An embedding request finished. */
  embedding(model: string, inputs: number, promptTokens: number): void {
    const m = this.#model(model);
    m.promptTokens += promptTokens;
    m.embeddingInputs += inputs;
  }

  /** The Prometheus text exposition of every metric. */
  render(): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };

    family("veritee_http_requests_total", "counter", "HTTP requests by route template and status.");
    for (const [route, { byStatus }] of this.#routes) {
      for (const [status, count] of byStatus) {
        out.push(
          `veritee_http_requests_total${labels([
            ["route", route],
            ["status", String(status)],
          ])} ${count}`,
        );
      }
    }

    family("veritee_http_request_duration_seconds", "histogram", "HTTP request latency by route template.");
    for (const [route, { latency }] of this.#routes) {
      this.#histogram(out, "veritee_http_request_duration_seconds", latency, route);
    }

    family("veritee_http_requests_in_flight", "gauge", "HTTP requests being served.");
    out.push(`veritee_http_requests_in_flight ${this.#inFlight}`);

    family("veritee_http_rejections_total", "counter", "Requests turned away, by reason.");
    for (const [reason, count] of this.#rejections)
      out.push(`veritee_http_rejections_total{reason="${reason}"} ${count}`);

    const perModel = (name: string, type: string, help: string, value: (m: ModelCounters) => number) => {
      family(name, type, help);
      for (const [model, m] of this.#models) out.push(`${name}${labels([["model", model]])} ${formatNumber(value(m))}`);
    };
    perModel("veritee_prompt_tokens_total", "counter", "Prompt tokens processed.", (m) => m.promptTokens);
    perModel("veritee_completion_tokens_total", "counter", "Tokens generated.", (m) => m.completionTokens);
    perModel("veritee_generations_total", "counter", "Generations completed.", (m) => m.generations);
    perModel(
      "veritee_generation_seconds_total",
      "counter",
      "Time spent generating; completion tokens / this = tokens per second.",
      (m) => m.generationSeconds,
    );
    perModel(
      "veritee_generation_tokens_per_second",
      "gauge",
      "Generation speed of the last completed generation.",
      (m) => m.lastTokensPerSecond,
    );
    perModel("veritee_embedding_inputs_total", "counter", "Inputs embedded.", (m) => m.embeddingInputs);

    family("veritee_time_to_first_token_seconds", "histogram", "Time from request start to the first generated text.");
    for (const [model, m] of this.#models) {
      if (m.ttft.count > 0) this.#histogram(out, "veritee_time_to_first_token_seconds", m.ttft, undefined, model);
    }
    out.push("");
    return out.join("\n") + this.#collectors.map((render) => render()).join("");
  }

  #histogram(out: string[], name: string, h: Histogram, route?: string, model?: string): void {
    const base: [string, string][] = route !== undefined ? [["route", route]] : [["model", model ?? ""]];
    let cumulative = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      cumulative += h.counts[i]!;
      out.push(`${name}_bucket${labels([...base, ["le", formatNumber(h.bounds[i]!)]])} ${cumulative}`);
    }
    out.push(`${name}_bucket${labels([...base, ["le", "+Inf"]])} ${h.count}`);
    out.push(`${name}_sum${labels(base)} ${formatNumber(h.sum)}`);
    out.push(`${name}_count${labels(base)} ${h.count}`);
  }
}
