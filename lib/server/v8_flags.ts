/**
 * The V8 flags the server runs with, everywhere it is started: `deno task serve` (deno.json),
 * the workers' command line (`server.ts`), the compiled server (`scripts/compile.ts`) and the
 * benchmark's servers.
 *
 * `--max-semi-space-size=16` (MiB): the young generation's semi-spaces may grow to 16 MiB. The objects of
 * a login (replies, store reads) live for a few Redis or KV round trips; a smaller young generation
 * (2 MiB was tried) promotes them to the old generation, where they cost full collections and stay
 * in the RSS: at 10,000 / 19,000 idle sessions 17.0 / 15.1 KiB per connection with 2 MiB, 14.1 /
 * 10.9 with 16 (8: 15.2 / 14.3; 32: 14.9 / 11.8; 64: 20.3 / 13.7), and a resume costs about a fifth
 * less CPU (`deno task bench --scenario connect`, `--scenario 100k`).
 *
 * @module
 */

/** V8 flags of every server process. */
export const SERVER_V8_FLAGS: readonly string[] = ["--max-semi-space-size=16"];

/**
 * The Deno command-line option that passes {@linkcode SERVER_V8_FLAGS}.
 *
 * @example
 * ```ts
 * v8FlagsOption(); // "--v8-flags=--max-semi-space-size=16"
 * ```
 */
export function v8FlagsOption(): string {
  return `--v8-flags=${SERVER_V8_FLAGS.join(",")}`;
}
