import { ok } from "node:assert/strict";
import { BINARIES, compileArgs } from "../scripts/compile.ts";
import { v8FlagsOption } from "../lib/server/v8_flags.ts";

const root = new URL("..", import.meta.url).pathname;

Deno.test("deno task serve runs the server with the server's V8 flags and --allow-ffi", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  const serve: string = config.tasks.serve.command;
  ok(serve.split(" ").includes(v8FlagsOption()), serve);
  ok(serve.split(" ").includes("--allow-ffi"), serve);
});

Deno.test("the compiled server gets the same V8 flags and --allow-ffi", () => {
  const server = BINARIES.find((b) => b.name === "imchat-server")!;
  const args = compileArgs(server, "dist");
  ok(args.includes(v8FlagsOption()), args.join(" "));
  ok(args.includes("--allow-ffi"), args.join(" "));
});

Deno.test("workers are started with the same V8 flags", async () => {
  const source = await Deno.readTextFile(`${root}server.ts`);
  ok(/"--allow-ffi",\s*v8FlagsOption\(\),/.test(source), "serverCommand passes both");
});
