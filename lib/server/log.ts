/**
 * Structured logging: one JSON line per event on stderr, with level, event name and fields.
 * Callers never pass secrets; `redact` removes them anyway should one slip into the fields.
 *
 * @module
 */

import type { LogLevel } from "../config/server_config.ts";

/** Fields of a log line. */
export type LogFields = Record<string, string | number | boolean | undefined | null>;

/** Where log events go. */
export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };
const SECRET_FIELDS = /pass|token|secret|hash/i;

/**
 * A logger writing JSON lines through `write` (stderr by default).
 *
 * @example
 * ```ts
 * const log = createLogger("info");
 * log.info("listening", { port: 8889 });
 * // {"time":"2026-11-22T06:00:00.000Z","level":"info","event":"listening","port":8889}
 * ```
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => console.error(line),
  now: () => number = Date.now,
): Logger {
  const min = RANK[level];
  const emit = (lvl: Exclude<LogLevel, "silent">) => (event: string, fields?: LogFields) => {
    if (RANK[lvl] < min) return;
    const line: Record<string, unknown> = {
      time: new Date(now()).toISOString(),
      level: lvl,
      event,
    };
    if (fields) {
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined) line[key] = SECRET_FIELDS.test(key) ? "[redacted]" : value;
      }
    }
    write(JSON.stringify(line));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
