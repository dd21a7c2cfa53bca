/**
 * Logging without data. The HTTP layer hands a logger only an event name and
 * fields whose values it computed itself (route templates, statuses, durations,
 * token counts, model ids from the engine's list, error class names and
 * codes). It never passes bodies, headers, URLs, prompts, completions, or the
 * message of any error — a JSON parser's or an engine's message can quote user
 * text — so no logger, at any level, can leak them.
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Structured fields of a log event: primitives only. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** Where log events go. Implementations may drop events below their level. */
export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /** Lowest level written (default "info"). */
  readonly level?: LogLevel;
  /** Where lines go (default: process.stderr). */
  readonly write?: (line: string) => void;
  /** The clock (default Date.now), injectable for tests. */
  readonly now?: () => number;
}

/**
 * A logger writing one JSON object per line:
 * `{"time":"…","level":"info","event":"request","method":"POST","route":"/v1/chat/completions","status":200,…}`.
 *
 * @example
 * ```ts
 * const logger = createJsonLogger({ level: "warn" });
 * ```
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const min = RANK[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? Date.now;
  return {
    log(level, event, fields) {
      if (RANK[level] < min) return;
      write(`${JSON.stringify({ time: new Date(now()).toISOString(), level, event, ...fields })}\n`);
    },
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { log() {} };
