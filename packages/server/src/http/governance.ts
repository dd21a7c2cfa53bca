/**
 * What the HTTP layer asks of usage governance (docs/CUSTODY.md
 * "Governance"), without knowing where it comes from: a custodial
 * deployment's meter (custody/meter.ts) implements it. Metered routes admit
 * each request before the engine sees it and settle it when it ends.
 */
import type { OutgoingHttpHeaders } from "node:http";

/** What a metered request holds while it runs. */
export interface Admission {
  readonly consumer: string;
  /** The `max_tokens` to generate with (capped by the tokens left), or undefined: as asked. */
  readonly maxTokens: number | undefined;
  /** Response headers (`x-veritee-quota-remaining`). */
  readonly headers: OutgoingHttpHeaders;
  /** Wait for the throttle before sending the next token; undefined when none applies. */
  pace(): Promise<void> | undefined;
  /** The request ended: what it used, or undefined when it was not served (the reservation goes back). */
  settle(used: { promptTokens: number; completionTokens: number } | undefined): void;
}

/** Usage governance of the served model. */
export interface Governance {
  /** Whether `token` is a current consumer's key (the access check of every non-public route). */
  knows(token: string | undefined): boolean;
  /**
   * Admit a request of the consumer whose key is `token`.
   *
   * @throws HttpError `model-unavailable`, `unauthorized`, `too-many-requests`, `insufficient-quota`.
   */
  admit(
    token: string | undefined,
    want: { readonly maxTokens: number | undefined; readonly contextSize: number | undefined },
    signal: AbortSignal,
  ): Promise<Admission>;
  /** `GET /v1/quota`'s body. @throws HttpError `unauthorized`, `model-unavailable`. */
  quota(token: string | undefined): unknown;
}
