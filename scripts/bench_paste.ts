/**
 * Benchmark: how long the terminal client takes to accept a 4,000-character paste.
 *
 * - **in process**: key events of one bracketed paste into the chat UI, until the frame
 *   with the whole text in the input rows is laid out (the editing and layout cost alone);
 * - **in a terminal**: the real client in tmux, from `paste-buffer -p` until the screen
 *   shows the input counter at 4000/4000 (terminal, decoding, editing, drawing), against
 *   the fake server over TCP.
 *
 * Prints the medians. Usage: `deno run -A scripts/bench_paste.ts [--runs N]`; also callable
 * as {@linkcode benchPaste} (e.g. from `scripts/bench.ts`).
 *
 * @module
 */

import { ChatClient } from "../lib/client/chat_client.ts";
import { DEFAULT_SETTINGS } from "../lib/client/settings.ts";
import { ChatApp } from "../lib/client/ui/chat_app.ts";
import { texts } from "../lib/i18n/translate.ts";
import { FakeChat } from "../tests/_fake_chat.ts";
import { startFakeTcp } from "../tests/_fake_tcp.ts";
import { TmuxClient } from "../tests/_tmux.ts";

/** Medians in milliseconds. */
export interface PasteFigures {
  inProcessMs: number;
  terminalMs: number | null;
  runs: number;
}

const TEXT = "长文本 mixed text ".repeat(300).slice(0, 4000);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function inProcess(runs: number): Promise<number> {
  const chat = new FakeChat();
  chat.account("alice");
  const client = new ChatClient({ connect: () => chat.connect() });
  let drawn = 0;
  const app = new ChatApp({
    client,
    screen: { size: () => ({ rows: 40, columns: 120 }), draw: () => void drawn++, bell() {} },
    tx: texts("en"),
    color: true,
    bell: false,
    clock: () => "12:00",
    host: "127.0.0.1",
    port: 1,
    kept: {
      settings: () => ({ ...DEFAULT_SETTINGS, ignore: [] }),
      history: () => [],
      saveSettings() {},
      saveHistory() {},
    },
    credentials: { name: "alice", password: "password1" },
    exit() {},
  });
  void app.run();
  while (!client.live) await new Promise((r) => setTimeout(r, 1));
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    app.keys([{ type: "paste", text: TEXT }]);
    app.drawNow();
    times.push(performance.now() - start);
    app.keys([{ type: "key", name: "char", char: "a", ctrl: true }, {
      type: "key",
      name: "char",
      char: "k",
      ctrl: true,
    }]);
  }
  client.close();
  return median(times);
}

async function inTerminal(runs: number): Promise<number | null> {
  const hasTmux = await new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
    .output().then((o) => o.success, () => false);
  if (!hasTmux) return null;
  await using fake = startFakeTcp();
  fake.chat.account("alice");
  await using c = await TmuxClient.start({
    port: fake.port,
    columns: 120,
    rows: 40,
    args: ["--user", "alice", "--password", "password1"],
  });
  await c.waitFor("the lobby", (s) => s.includes("[2:#lobby]"));
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await c.paste(TEXT);
    await c.waitFor("the paste", (s) => s.includes("[4000/4000]"));
    times.push(performance.now() - start);
    await c.keys("C-a", "C-k");
    await c.waitFor("an empty input", (s) => !s.includes("/4000]"));
  }
  return median(times);
}

/** Runs both measurements. */
export async function benchPaste(runs = 5): Promise<PasteFigures> {
  return { inProcessMs: await inProcess(runs * 4), terminalMs: await inTerminal(runs), runs };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--runs");
  const runs = i >= 0 ? Number(Deno.args[i + 1]) : 5;
  const f = await benchPaste(runs);
  console.log(`Time to accept a 4,000-character paste (median of ${f.runs} runs):`);
  console.log(`  in process (editing and layout): ${f.inProcessMs.toFixed(2)} ms`);
  console.log(
    f.terminalMs === null
      ? "  in a terminal: skipped (no tmux)"
      : `  in a terminal (tmux, paste to screen): ${f.terminalMs.toFixed(0)} ms`,
  );
}
