/**
 * A small, table-driven command-line and environment parser. Each option is declared once
 * with its flag, environment variable, type, default and help; the same table produces the
 * parsed values, the errors and the `--help` text. Pure code: the caller passes `args` and
 * an `env` lookup.
 *
 * @module
 */

/** One option of a command. */
export interface OptionSpec {
  /** Flag name without dashes, e.g. `port` for `--port`. */
  flag: string;
  /** Environment variable that sets it when the flag is absent. */
  env?: string;
  kind: "string" | "int" | "bool";
  /** Value when neither flag nor variable is given (absent means optional). */
  default?: string | number | boolean;
  /** Inclusive bounds for `int`. */
  min?: number;
  max?: number;
  /** Allowed values for `string`. */
  choices?: readonly string[];
  help: string;
}

/** Parsed option values by flag name. */
export type OptionValues = Record<string, string | number | boolean | undefined>;

/** Raised for a bad flag or value; the message is meant for the user. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses `args` (and, for options not given as flags, `env`) against `specs`.
 * Accepts `--flag value`, `--flag=value`, and bare `--flag` / `--no-flag` for booleans.
 *
 * @throws {UsageError} for an unknown flag, a missing value or a value out of range.
 *
 * @example
 * ```ts
 * const specs = [{ flag: "port", kind: "int", default: 8889, help: "port" }] as const;
 * parseOptions(specs, ["--port", "9000"], () => undefined); // { port: 9000 }
 * ```
 */
export function parseOptions(
  specs: readonly OptionSpec[],
  args: readonly string[],
  env: (name: string) => string | undefined,
): OptionValues {
  const byFlag = new Map(specs.map((s) => [s.flag, s]));
  const raw = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw new UsageError(`Unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    let spec = byFlag.get(name);
    if (!spec && name.startsWith("no-") && byFlag.get(name.slice(3))?.kind === "bool") {
      name = name.slice(3);
      spec = byFlag.get(name);
      value = "false";
    }
    if (!spec) throw new UsageError(`Unknown option --${name}`);
    if (value === undefined) {
      if (spec.kind === "bool") {
        value = "true";
      } else {
        value = args[++i];
        if (value === undefined) throw new UsageError(`Option --${name} needs a value`);
      }
    }
    raw.set(name, value);
  }
  const out: OptionValues = {};
  for (const spec of specs) {
    const fromFlag = raw.get(spec.flag);
    const fromEnv = spec.env ? env(spec.env) : undefined;
    const text = fromFlag ?? (fromEnv === "" ? undefined : fromEnv);
    const source = fromFlag !== undefined ? `--${spec.flag}` : spec.env ?? spec.flag;
    out[spec.flag] = text === undefined ? spec.default : convert(spec, text, source);
  }
  return out;
}

function convert(spec: OptionSpec, text: string, source: string): string | number | boolean {
  switch (spec.kind) {
    case "bool":
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off)$/i.test(text)) return false;
      throw new UsageError(`${source} must be true or false, not "${text}"`);
    case "int": {
      const value = Number(text);
      if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
        throw new UsageError(`${source} must be a whole number, not "${text}"`);
      }
      if (spec.min !== undefined && value < spec.min) {
        throw new UsageError(`${source} must be at least ${spec.min}`);
      }
      if (spec.max !== undefined && value > spec.max) {
        throw new UsageError(`${source} must be at most ${spec.max}`);
      }
      return value;
    }
    case "string":
      if (spec.choices && !spec.choices.includes(text)) {
        throw new UsageError(`${source} must be one of ${spec.choices.join(", ")}`);
      }
      return text;
  }
}

/**
 * Renders the help text of a command from its option table.
 *
 * @example
 * ```ts
 * formatHelp("imchat-server", "Chat server", []);
 * ```
 */
export function formatHelp(command: string, summary: string, specs: readonly OptionSpec[]): string {
  const lines = [`${command}: ${summary}`, "", "Options:"];
  for (const spec of specs) {
    const value = spec.kind === "bool" ? "" : spec.kind === "int" ? " N" : " VALUE";
    const def = spec.default === undefined ? "" : ` (default: ${spec.default})`;
    const env = spec.env ? ` [env ${spec.env}]` : "";
    lines.push(`  --${spec.flag}${value}`, `      ${spec.help}${def}${env}`);
  }
  lines.push("  --help", "      Show this help");
  return lines.join("\n");
}
