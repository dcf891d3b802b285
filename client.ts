/**
 * Entry point of the terminal chat client: `deno task client [options]`, `--help` for the
 * options. On a terminal it is interactive (menus, hidden password, colour); with stdin
 * redirected it runs in line mode, one command per input line and one output line per
 * event (format in `lib/client/view.ts`).
 *
 * @module
 */

import process from "node:process";
import { ChatClient } from "./lib/client/chat_client.ts";
import { parseCommand } from "./lib/client/commands.ts";
import { makeClock } from "./lib/client/format.ts";
import { type AppDeps, type ChatTerminal, runApp } from "./lib/client/ui/app.ts";
import { InquirerPrompter } from "./lib/client/ui/inquirer_prompter.ts";
import { LinePrompter, LineQueue, readLines } from "./lib/client/ui/prompter.ts";
import { TtyLines } from "./lib/client/ui/tty.ts";
import { humanView, lineView } from "./lib/client/view.ts";
import { CLIENT_OPTIONS, parseClientConfig } from "./lib/config/client_config.ts";
import { formatHelp, UsageError } from "./lib/config/flags.ts";

/** Runs the client; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  if (args.includes("--help")) {
    console.log(formatHelp("imchat client", "Terminal chat client", CLIENT_OPTIONS));
    return 0;
  }
  let config;
  try {
    config = parseClientConfig(args, (name) => Deno.env.get(name));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\nRun with --help to see the options.`);
    return 2;
  }
  let caCerts: string[] | undefined;
  if (config.caFile !== undefined) {
    try {
      caCerts = [await Deno.readTextFile(config.caFile)];
    } catch (error) {
      console.error(`Cannot read the CA file ${config.caFile}: ${(error as Error).message}`);
      return 1;
    }
  }
  const { host, port, tls } = config;
  const newClient = () =>
    new ChatClient({ host, port, tls, caCerts, clientName: "imchat-terminal" });
  const interactive = Deno.stdin.isTerminal();
  const io = interactive ? terminalIo(config.color && Deno.stdout.isTerminal()) : lineModeIo();
  return await runApp({ ...io, host, port, newClient });
}

type IoDeps = Omit<AppDeps, "host" | "port" | "newClient">;

/** Interactive: inquirer menus, readline chat screen, human-readable lines. */
function terminalIo(color: boolean): IoDeps {
  const clock = makeClock();
  const print = (lines: readonly string[]) => {
    if (lines.length > 0) process.stdout.write(lines.join("\n") + "\n");
  };
  const openChat = (): ChatTerminal => {
    const tty = new TtyLines({
      prompt: color ? "\x1b[1m>\x1b[22m " : "> ",
      // A message is shown again, with its time, once the server has accepted it.
      erase: (line) => parseCommand(line)?.kind === "send" || line.trim() === "",
    });
    return {
      lines: tty,
      print: (lines) => tty.print(lines),
      prompter: new LinePrompter(tty, (line) => tty.print([line]), { style: "human" }),
      setStatus: (status) => tty.setStatus(status),
      restoreInput: (text) => tty.restoreInput(text),
      close: () => tty.close(),
    };
  };
  return {
    prompter: new InquirerPrompter(),
    print,
    openChat,
    view: (self) => humanView({ color, clock, me: self?.me, nickOf: self?.nickOf }),
    checkLocally: true,
  };
}

/** Line mode: one line in per answer or command, one line out per event. */
function lineModeIo(): IoDeps {
  const encoder = new TextEncoder();
  const print = (lines: readonly string[]) => {
    if (lines.length === 0) return;
    const bytes = encoder.encode(lines.map((line) => line + "\n").join(""));
    try {
      for (let offset = 0; offset < bytes.length;) {
        offset += Deno.stdout.writeSync(bytes.subarray(offset));
      }
    } catch {
      // Nobody reads stdout any more: keep going until stdin ends.
    }
  };
  const lines = new LineQueue(readLines(Deno.stdin.readable));
  const prompter = new LinePrompter(lines, (line) => print([line]));
  return {
    prompter,
    print,
    openChat: () => ({ lines, print, prompter, close() {} }),
    view: () => lineView(),
    checkLocally: false,
  };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
