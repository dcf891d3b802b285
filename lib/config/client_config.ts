/**
 * Terminal client configuration: parsed once from flags and environment into a typed
 * object. Pure code (reading the `--ca` file is left to the caller).
 *
 * @module
 */

import { chooseLang, type Lang } from "../i18n/translate.ts";
import { type OptionSpec, parseOptions } from "./flags.ts";

/** Everything the terminal client needs to start. */
export interface ClientConfig {
  /** Server host name or address. */
  host: string;
  port: number;
  /** Connect over TLS. */
  tls: boolean;
  /** PEM file of a private CA to trust (implies TLS unless `--no-tls`). */
  caFile?: string;
  /** Colour output, if the terminal supports it (off with `--no-color` or `NO_COLOR`). */
  color: boolean;
  /** Ring the terminal bell on mentions and private messages. */
  bell: boolean;
  /** Interface language. */
  lang: Lang;
  /** One JSON object per line in both directions (bots); also when stdin is not a terminal. */
  json: boolean;
  /** `--json`: stay connected after the end of input. */
  stay: boolean;
  /** Log in at start with these (no prompt). */
  user?: string;
  password?: string;
  /** Create the account first when it does not exist, with this nickname (`--register`). */
  register: boolean;
  nickname?: string;
  /** Where history and settings are kept (default `$XDG_STATE_HOME/imchat`). */
  stateDir?: string;
}

/** The client's options, in `--help` order. */
export const CLIENT_OPTIONS: readonly OptionSpec[] = [
  { flag: "host", env: "IM_HOST", kind: "string", default: "127.0.0.1", help: "Server address" },
  {
    flag: "port",
    env: "IM_PORT",
    kind: "int",
    default: 8889,
    min: 1,
    max: 65535,
    help: "Server TCP port",
  },
  {
    flag: "tls",
    env: "IM_TLS",
    kind: "bool",
    help: "Connect with TLS (default: on when --ca is given)",
  },
  {
    flag: "ca",
    env: "IM_CA",
    kind: "string",
    help: "PEM file of a private certificate authority to trust (implies --tls)",
  },
  {
    flag: "user",
    env: "IM_USER",
    kind: "string",
    help: "Login name: log in at start without asking (with --password)",
  },
  {
    flag: "password",
    env: "IM_PASSWORD",
    kind: "string",
    help: "Password for --user (prefer the environment variable: flags show in `ps`)",
  },
  {
    flag: "register",
    kind: "bool",
    default: false,
    help: "With --user: create the account first if it does not exist",
  },
  {
    flag: "nick",
    env: "IM_NICK",
    kind: "string",
    help: "Nickname for --register (default: the login name)",
  },
  {
    flag: "json",
    kind: "bool",
    default: false,
    help: "Bot mode: one JSON command per input line, one JSON event per output line " +
      "(also chosen when stdin is not a terminal)",
  },
  {
    flag: "stay",
    kind: "bool",
    default: false,
    help: "With --json: stay connected after the end of input (until SIGINT/SIGTERM)",
  },
  {
    flag: "lang",
    env: "IM_LANG",
    kind: "string",
    choices: ["en", "zh"],
    help: "Interface language: en or zh (default: from LC_ALL, LC_MESSAGES or LANG)",
  },
  {
    flag: "color",
    kind: "bool",
    default: true,
    help: "Colour output on a terminal; --no-color (or env NO_COLOR) turns it off",
  },
  {
    flag: "bell",
    kind: "bool",
    default: true,
    help: "Ring the terminal bell on mentions and private messages; --no-bell turns it off",
  },
  {
    flag: "state-dir",
    env: "IM_STATE_DIR",
    kind: "string",
    help: "Where input history and settings are kept (default $XDG_STATE_HOME/imchat " +
      "or ~/.local/state/imchat)",
  },
];

/**
 * Builds the client configuration from command-line arguments and environment.
 *
 * @throws {UsageError} for unknown flags or invalid values.
 *
 * @example
 * ```ts
 * const config = parseClientConfig(["--port", "9000", "--no-color"], () => undefined);
 * config.port; // 9000
 * config.color; // false
 * ```
 */
export function parseClientConfig(
  args: readonly string[],
  env: (name: string) => string | undefined,
): ClientConfig {
  const o = parseOptions(CLIENT_OPTIONS, args, env);
  const caFile = o.ca as string | undefined;
  const noColor = env("NO_COLOR");
  const config: ClientConfig = {
    host: o.host as string,
    port: o.port as number,
    tls: (o.tls as boolean | undefined) ?? caFile !== undefined,
    color: (o.color as boolean) && (noColor === undefined || noColor === ""),
    bell: o.bell as boolean,
    lang: chooseLang(o.lang as string | undefined, env),
    json: o.json as boolean,
    stay: o.stay as boolean,
    register: o.register as boolean,
  };
  if (caFile !== undefined) config.caFile = caFile;
  for (const key of ["user", "password", "nick"] as const) {
    const value = o[key] as string | undefined;
    if (value !== undefined) config[key === "nick" ? "nickname" : key] = value;
  }
  const stateDir = o["state-dir"] as string | undefined;
  if (stateDir !== undefined) config.stateDir = stateDir;
  return config;
}
