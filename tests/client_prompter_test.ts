import assert from "node:assert/strict";
import {
  EndOfInput,
  LinePrompter,
  LineQueue,
  matchChoice,
  readLines,
} from "../lib/client/ui/prompter.ts";

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readLines(stream)) lines.push(line);
  return lines;
}

Deno.test("readLines: CRLF, UTF-8 split anywhere, last line without a newline", async () => {
  const bytes = new TextEncoder().encode("1\r\n你好 world\n\nlast 😀");
  const expected = ["1", "你好 world", "", "last 😀"];
  for (let cut = 0; cut <= bytes.length; cut++) {
    const lines = await collect(streamOf([bytes.subarray(0, cut), bytes.subarray(cut)]));
    assert.deepEqual(lines, expected, `cut at ${cut}`);
  }
  const oneByOne = [...bytes].map((b) => Uint8Array.of(b));
  assert.deepEqual(await collect(streamOf(oneByOne)), expected);
});

Deno.test("LinePrompter: a list accepts the number or the value, asks again otherwise", async () => {
  const out: string[] = [];
  const choices = [{ name: "Log in", value: "login" }, { name: "Exit", value: "exit" }];
  const prompter = new LinePrompter(new LineQueue(["9", "exit", "1"]), (l) => out.push(l));
  assert.equal(await prompter.select("Main menu", choices), "exit");
  assert.equal(await prompter.select("Main menu", choices), "login");
  assert.deepEqual(out, [
    "ASK\tMain menu: 1) Log in  2) Exit",
    "ERROR\tUSAGE\tPlease answer with a number from 1 to 2.",
    "ASK\tMain menu: 1) Log in  2) Exit",
    "ASK\tMain menu: 1) Log in  2) Exit",
  ]);
  assert.equal(matchChoice(" 2. ", choices), "exit");
  assert.equal(matchChoice("log in", choices), "login");
  assert.equal(matchChoice("", choices), undefined);
});

Deno.test("LinePrompter: validation, defaults, and end of input", async () => {
  const out: string[] = [];
  const prompter = new LinePrompter(new LineQueue(["ab", "alice", ""]), (l) => out.push(l));
  const validate = (v: string) => v.length < 3 ? "Too short." : null;
  assert.equal(await prompter.input("Name:", { validate }), "alice");
  assert.equal(await prompter.password("Nickname:", { default: "Al" }), "Al");
  await assert.rejects(prompter.input("More:"), EndOfInput);
  assert.deepEqual(out, [
    "ASK\tName:",
    "ERROR\tUSAGE\tToo short.",
    "ASK\tName:",
    "ASK\tNickname: (Al)",
    "ASK\tMore:",
  ]);
});

Deno.test("LineQueue: an aborted read does not lose the line it was waiting for", async () => {
  const gate = Promise.withResolvers<void>();
  async function* slow() {
    await gate.promise;
    yield "kept";
  }
  const queue = new LineQueue(slow());
  const abort = new AbortController();
  const first = queue.read(undefined, abort.signal);
  abort.abort(new Error("screen closed"));
  await assert.rejects(first, /screen closed/);
  gate.resolve();
  assert.equal(await queue.read(), "kept");
  assert.equal(await queue.read(), null);
});
