/**
 * A machine that never ran the project: with an empty Deno cache, the programs started by
 * the `serve` and `client` tasks fetch their npm packages silently, so nothing but their own
 * output reaches the terminal (no `Download` lines, no progress bar drawn over the menu).
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

/** The command line of a task in deno.json, with `deno` resolved to this executable. */
async function taskCommand(task: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const entry = config.tasks[task] as string | { command: string };
  const words = (typeof entry === "string" ? entry : entry.command).split(/\s+/);
  equal(words[0], "deno", `task ${task} runs deno`);
  return [Deno.execPath(), ...words.slice(1)];
}

/** Runs `command` with an empty Deno cache; returns its exit code, stdout and stderr. */
async function firstRun(command: string[]): Promise<{ code: number; out: string; err: string }> {
  const cache = await Deno.makeTempDir({ prefix: "imchat-deno-dir-" });
  try {
    const { code, stdout, stderr } = await new Deno.Command(command[0], {
      args: command.slice(1),
      cwd: ROOT,
      env: { DENO_DIR: cache },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    return { code, out: text.decode(stdout), err: text.decode(stderr) };
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
}

for (const task of ["client", "serve"]) {
  Deno.test(`the ${task} task prints only its own output on a first run (empty cache)`, async () => {
    const { code, out, err } = await firstRun([...await taskCommand(task), "--help"]);
    equal(code, 0, err);
    ok(out.includes("--help"), out);
    deepStrictEqual(err, "");
  });
}
