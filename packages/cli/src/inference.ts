/**
 * The two OpenAI calls the CLI makes (`/models`, streamed `/completions`
 * and `/chat/completions`), over `session.fetch`. A few lines of
 * Server-Sent Events (WHATWG HTML §9.2) instead of a runtime dependency on
 * the `openai` package — the SDK itself is tested with that package.
 */
import { ClientError, type Session } from "@veritee/client/node";

/** An OpenAI chat message. */
export interface ChatMessage {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

/** A server error as a typed error: the status and the OpenAI error code, never the body's text. */
async function failure(response: Response): Promise<ClientError> {
  let code = "";
  try {
    const parsed = JSON.parse(await response.text()) as { error?: { code?: unknown } };
    if (typeof parsed.error?.code === "string" && /^[\w.-]{1,64}$/.test(parsed.error.code)) code = parsed.error.code;
  } catch {
    // not JSON: the status says enough
  }
  return new ClientError("request-failed", `the server answered HTTP ${response.status}${code ? ` (${code})` : ""}`, {
    status: response.status,
  });
}

/** The ids of the models the server lists. */
export async function listModels(session: Session): Promise<string[]> {
  const response = await session.fetch(`${session.baseURL}/models`, {
    headers: { accept: "application/json", authorization: `Bearer ${apiKey()}` },
  });
  if (!response.ok) throw await failure(response);
  const body = (await response.json()) as { data?: { id?: unknown }[] };
  return (body.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === "string");
}

/**
 * POST a streaming request and yield each event's text delta: `choices[0].text`
 * for completions, `choices[0].delta.content` for chat completions.
 */
export async function* streamText(
  session: Session,
  path: "/completions" | "/chat/completions",
  body: Readonly<Record<string, unknown>>,
  onResponse?: (response: Response) => void,
): AsyncGenerator<string> {
  const response = await session.fetch(`${session.baseURL}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${apiKey()}` },
    body: JSON.stringify({ ...body, stream: true }),
  });
  onResponse?.(response);
  if (!response.ok) throw await failure(response);
  if (response.body === null) return;
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end = buffer.search(/\r?\n\r?\n/);
    while (end >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      const data = event
        .split(/\r?\n/)
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data === "[DONE]") return;
      if (data !== "") {
        const parsed = JSON.parse(data) as {
          choices?: { text?: unknown; delta?: { content?: unknown } }[];
          error?: { code?: unknown };
        };
        if (parsed.error !== undefined) {
          throw new ClientError("request-failed", "the server ended the stream with an error");
        }
        const choice = parsed.choices?.[0];
        const text = path === "/completions" ? choice?.text : choice?.delta?.content;
        if (typeof text === "string" && text !== "") yield text;
      }
      end = buffer.search(/\r?\n\r?\n/);
    }
  }
}

/**
 * A custodial deployment's `x-veritee-quota-remaining` (docs/CUSTODY.md
 * "Governance"), e.g. `inferences=97, tokens=4000`, when the server sent one
 * in a form this reads: letters, digits, `=`, `,` and spaces only (it is
 * printed to a terminal).
 */
export function quotaRemaining(response: Response): string | undefined {
  const value = response.headers.get("x-veritee-quota-remaining");
  return value !== null && /^[a-z0-9=, ]{1,200}$/.test(value) ? value : undefined;
}

/** The API key for the server, when it wants one: `$VERITEE_API_KEY` (never a command-line argument). */
export function apiKey(): string {
  return process.env.VERITEE_API_KEY ?? "unused";
}
