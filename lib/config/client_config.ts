/**
 * Terminal client configuration: parsed once from flags and environment into a typed
 * object. Pure code (reading the `--ca` file is left to the caller).
 *
 * @module
 */

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
    flag: "color",
    kind: "bool",
    default: true,
    help: "Colour output on a terminal; --no-color (or env NO_COLOR) turns it off",
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
  return {
    host: o.host as string,
    port: o.port as number,
    tls: (o.tls as boolean | undefined) ?? caFile !== undefined,
    caFile,
    color: (o.color as boolean) && (noColor === undefined || noColor === ""),
  };
}
