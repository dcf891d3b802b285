/**
 * Helpers of the tests that run several real server nodes (processes) on one Redis: the
 * arguments of a node, and a user logged in on one.
 *
 * @module
 */

import { Wire } from "./_wire.ts";

/** Arguments of a single-process node on Redis at `url` with id `id`. */
export function redisNode(
  url: string,
  id: string,
  prefix: string,
  extra: string[] = [],
): string[] {
  return [
    "--port",
    "0",
    "--redis",
    url,
    "--redis-prefix",
    prefix,
    "--node-id",
    id,
    "--hash-workers",
    "0",
    "--workers",
    "1",
    ...extra,
  ];
}

/**
 * A connection to `port` logged in as `name` (password `password1`), registering the account
 * first unless `register` is false; resolves after the login sequence.
 */
export async function loggedIn(port: number, name: string, register = true): Promise<Wire> {
  const wire = await Wire.open(port);
  if (register) {
    await wire.request("register", { name, password: "password1", nickname: name.toUpperCase() });
  }
  await wire.request("login", { name, password: "password1" });
  await wire.next("backlog");
  return wire;
}
