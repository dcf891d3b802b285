/**
 * Entry point of the terminal chat client: `deno task client [options]`, `--help` for the
 * options. On a terminal it is interactive (windows, status bar, line editor); with `--json`
 * (or stdin not a terminal) it is a bot interface, one JSON object per line each way
 * (`lib/client/json_mode.ts`).
 *
 * @module
 */

import { ChatClient } from "./lib/client/chat_client.ts";
import { ChatConnection } from "./lib/client/connection.ts";
import { makeClock } from "./lib/client/format.ts";
import { runJsonMode } from "./lib/client/json_mode.ts";
import { stateDir } from "./lib/client/settings.ts";
import { ChatApp } from "./lib/client/ui/chat_app.ts";
import { readLines } from "./lib/client/ui/lines.ts";
import { StateDir } from "./lib/client/ui/state_dir.ts";
import { Terminal } from "./lib/client/ui/terminal.ts";
import {
  CLIENT_OPTIONS,
  type ClientConfig,
  parseClientConfig,
} from "./lib/config/client_config.ts";
import { formatHelp, UsageError } from "./lib/config/flags.ts";
import { chooseLang, type MessageKey, texts } from "./lib/i18n/translate.ts";

/** Runs the client; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const env = (name: string) => Deno.env.get(name);
  const langFlag = args.find((a) => a.startsWith("--lang="))?.slice(7) ??
    (args.includes("--lang") ? args[args.indexOf("--lang") + 1] : undefined);
  const tx = texts(chooseLang(langFlag ?? env("IM_LANG"), env));
  if (args.includes("--help")) {
    const specs = CLIENT_OPTIONS.map((o) => ({ ...o, help: tx.t(`flag.${o.flag}` as MessageKey) }));
    console.log(formatHelp("imchat client", tx.t("cli.summary"), specs));
    return 0;
  }
  let config: ClientConfig;
  try {
    config = parseClientConfig(args, env);
    if ((config.user === undefined) !== (config.password === undefined)) {
      throw new UsageError(tx.t("cli.userPassword"));
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${tx.t("cli.seeHelp")}`);
    return 2;
  }
  let caCerts: string[] | undefined;
  if (config.caFile !== undefined) {
    try {
      caCerts = [await Deno.readTextFile(config.caFile)];
    } catch (error) {
      console.error(tx.t("cli.caFile", { file: config.caFile, why: (error as Error).message }));
      return 1;
    }
  }
  const { host, port, tls } = config;
  const json = config.json || !Deno.stdin.isTerminal();
  const client = new ChatClient({
    connect: () =>
      ChatConnection.open({
        host,
        port,
        tls,
        caCerts,
        clientName: json ? "imchat-json" : "imchat-terminal",
      }),
  });
  const credentials = config.user !== undefined && config.password !== undefined
    ? {
      name: config.user,
      password: config.password,
      ...(config.register ? { register: { nickname: config.nickname ?? config.user } } : {}),
    }
    : undefined;
  if (json) return await runJson(config, client, credentials);
  return await interactiveMain(config, client, credentials);
}

type Credentials = { name: string; password: string; register?: { nickname: string } };

async function runJson(
  config: ClientConfig,
  client: ChatClient,
  credentials: Credentials | undefined,
): Promise<number> {
  const encoder = new TextEncoder();
  const write = (line: string) => {
    const bytes = encoder.encode(line + "\n");
    try {
      for (let offset = 0; offset < bytes.length;) {
        offset += Deno.stdout.writeSync(bytes.subarray(offset));
      }
    } catch {
      // Nobody reads stdout any more.
    }
  };
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    return await runJsonMode({
      client,
      lines: readLines(Deno.stdin.readable, stop.signal),
      write,
      credentials,
      stay: config.stay,
      stop: stop.signal,
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

async function interactiveMain(
  config: ClientConfig,
  client: ChatClient,
  credentials: Credentials | undefined,
): Promise<number> {
  const tx = texts(config.lang);
  const terminal = new Terminal();
  const dir = new StateDir(config.stateDir ?? stateDir((name) => Deno.env.get(name)));
  const exited = Promise.withResolvers<{ code: number; lines: string[] }>();
  const app = new ChatApp({
    client,
    screen: terminal,
    tx,
    color: config.color,
    bell: config.bell,
    clock: makeClock(),
    host: config.host,
    port: config.port,
    kept: dir,
    credentials,
    exit: (code, lines) => exited.resolve({ code, lines }),
  });
  const onSignal = () => void app.terminate();
  Deno.addSignalListener("SIGTERM", onSignal);
  terminal.start((keys) => app.keys(keys), () => app.drawNow(), () => void app.terminate());
  try {
    void app.run();
    const { code, lines } = await exited.promise;
    await terminal.stop(lines);
    return code;
  } catch (error) {
    await terminal.stop();
    throw error;
  } finally {
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
