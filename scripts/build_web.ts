/**
 * Builds the web client into `dist/web/` (`index.html`, `app.js`, `app.css`) with
 * `deno bundle --platform browser`, only when its sources changed: a hash of every input is
 * kept in `dist/web/.build-hash`. `deno task serve` and `deno task test` run it first.
 *
 * Usage: `deno task build:web [--force] [--out DIR]`
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);
const SOURCES = ["lib/web/", "lib/protocol/"];
const STATIC = "lib/web/static/";
const ENTRY = "lib/web/main.ts";
const HASH_FILE = ".build-hash";

/** The default output directory. */
export const WEB_DIR = new URL("dist/web/", ROOT).pathname;

async function files(dir: URL): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) out.push(...await files(url));
    else out.push(url.pathname);
  }
  return out.sort();
}

/** A hash of everything the build reads (sources, static files, this script, Deno). */
export async function sourceHash(): Promise<string> {
  const paths = [new URL(import.meta.url).pathname];
  for (const dir of SOURCES) paths.push(...await files(new URL(dir, ROOT)));
  const parts: Uint8Array[] = [new TextEncoder().encode(Deno.version.deno)];
  for (const path of paths) {
    parts.push(new TextEncoder().encode(`\0${path.slice(ROOT.pathname.length)}\0`));
    parts.push(await Deno.readFile(path));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What a build did. */
export interface BuildResult {
  dir: string;
  built: boolean;
  ms: number;
}

/**
 * Builds into `outDir` unless it holds a build of the same sources (or `force`). The new
 * files are written to a temporary directory and moved into place, so a reader never sees
 * half a build.
 *
 * @example
 * ```ts
 * const { dir } = await buildWeb();
 * ```
 */
export async function buildWeb(
  outDir: string = WEB_DIR,
  force = false,
): Promise<BuildResult> {
  const started = performance.now();
  const hash = await sourceHash();
  const dir = outDir.endsWith("/") ? outDir : `${outDir}/`;
  const current = await Deno.readTextFile(dir + HASH_FILE).catch(() => null);
  if (!force && current === hash) return { dir, built: false, ms: performance.now() - started };
  const parent = new URL("../", `file://${dir}`).pathname;
  await Deno.mkdir(parent, { recursive: true });
  const temp = await Deno.makeTempDir({ dir: parent, prefix: ".web-build-" });
  try {
    await Deno.chmod(temp, 0o755);
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--minify",
        "--output",
        `${temp}/app.js`,
        new URL(ENTRY, ROOT).pathname,
      ],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(`deno bundle failed:\n${new TextDecoder().decode(stderr)}`);
    }
    for (const name of ["index.html", "app.css"]) {
      await Deno.copyFile(new URL(STATIC + name, ROOT), `${temp}/${name}`);
    }
    await Deno.writeTextFile(`${temp}/${HASH_FILE}`, hash);
    const old = `${temp}.old`;
    await Deno.rename(dir, old).catch(() => undefined);
    try {
      await Deno.rename(temp, dir);
    } catch (error) {
      // Another build finished first: keep it when it is of the same sources.
      if (await Deno.readTextFile(dir + HASH_FILE).catch(() => null) !== hash) throw error;
    }
    await Deno.remove(old, { recursive: true }).catch(() => undefined);
  } finally {
    await Deno.remove(temp, { recursive: true }).catch(() => undefined);
  }
  return { dir, built: true, ms: performance.now() - started };
}

async function main(args: string[]): Promise<number> {
  const outIndex = args.indexOf("--out");
  const out = outIndex >= 0 ? args[outIndex + 1] : WEB_DIR;
  try {
    const result = await buildWeb(out, args.includes("--force"));
    console.error(
      result.built
        ? `Built the web client into ${result.dir} in ${Math.round(result.ms)} ms`
        : `The web client in ${result.dir} is up to date`,
    );
    return 0;
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
