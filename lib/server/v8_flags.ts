/**
 * The V8 flags the server runs with, everywhere it is started: `deno task serve` (deno.json),
 * the workers' command line (`server.ts`), the compiled server (`scripts/compile.ts`) and the
 * benchmark's servers.
 *
 * `--max-semi-space-size=2` (MiB): V8 otherwise grows the young generation to tens of MiB
 * during a burst of logins and keeps it, about 5 KiB per connection at 10,000 idle
 * connections; a chat server's garbage is short-lived frames and replies, which small
 * scavenges handle.
 *
 * @module
 */

/** V8 flags of every server process. */
export const SERVER_V8_FLAGS: readonly string[] = ["--max-semi-space-size=2"];

/**
 * The Deno command-line option that passes {@linkcode SERVER_V8_FLAGS}.
 *
 * @example
 * ```ts
 * v8FlagsOption(); // "--v8-flags=--max-semi-space-size=2"
 * ```
 */
export function v8FlagsOption(): string {
  return `--v8-flags=${SERVER_V8_FLAGS.join(",")}`;
}
