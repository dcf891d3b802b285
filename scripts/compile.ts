/**
 * Builds standalone executables `dist/imchat-server` and `dist/imchat-client` with
 * `deno compile`. `deno compile` needs the Deno runtime base ("denort") of the same version:
 * it downloads it unless `DENORT_BIN` names a local copy (needed on machines without
 * internet access).
 *
 * Usage: `deno task compile [--target TRIPLE]`
 *
 * @module
 */

import { v8FlagsOption } from "../lib/server/v8_flags.ts";

/** What each executable is built from and may do. */
export const BINARIES = [
  {
    name: "imchat-server",
    entry: "server.ts",
    /** The web client, built by `deno task build:web`, is served from inside the executable. */
    include: ["dist/web"],
    permissions: [
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      "--allow-run",
      // Synchronous socket writes through libc (lib/server/sync_send.ts).
      "--allow-ffi",
      v8FlagsOption(),
    ],
  },
  {
    name: "imchat-client",
    entry: "client.ts",
    include: [],
    // --allow-write: the input history and settings in the state directory.
    permissions: ["--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys"],
  },
] as const;

/** The `deno compile` arguments for one executable. */
export function compileArgs(
  binary: typeof BINARIES[number],
  outDir: string,
  target?: string,
): string[] {
  return [
    "compile",
    "--quiet",
    "--unstable-kv",
    "--unstable-net",
    ...binary.permissions,
    ...(target ? ["--target", target] : []),
    ...binary.include.flatMap((path) => ["--include", path]),
    "--output",
    `${outDir}/${binary.name}`,
    binary.entry,
  ];
}

async function main(args: string[]): Promise<number> {
  const targetIndex = args.indexOf("--target");
  const target = targetIndex >= 0 ? args[targetIndex + 1] : undefined;
  const outDir = "dist";
  await Deno.mkdir(outDir, { recursive: true });
  const denort = Deno.env.get("DENORT_BIN");
  console.log(
    denort
      ? `Using the runtime base from DENORT_BIN=${denort}`
      : "DENORT_BIN is not set: deno compile will download the runtime base (needs internet)",
  );
  for (const binary of BINARIES) {
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: compileArgs(binary, outDir, target),
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) {
      console.error(
        `Building ${binary.name} failed. Without internet access, set DENORT_BIN to a denort ` +
          `binary of the same version as this deno (${Deno.version.deno}).`,
      );
      return 1;
    }
    console.log(`Built ${outDir}/${binary.name}`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
