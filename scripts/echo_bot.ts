/**
 * An example bot on the client's `--json` mode: it logs in, answers every private message
 * it gets, and ignores the rest. Run it with its credentials in the environment:
 *
 * ```sh
 * IM_USER=helper IM_PASSWORD='a long secret' deno run --allow-run --allow-env --allow-read \
 *   scripts/echo_bot.ts --host 127.0.0.1 --port 8889 --register
 * ```
 *
 * Any flag is passed on to the client (`--register` creates the account on first start).
 * It talks to the client over pipes, one JSON object per line each way: commands such as
 * `{"cmd":"send","to":"bob","text":"…","ref":1}` in, events such as
 * `{"event":"message","msg":{…}}` out. SIGINT or SIGTERM makes it log out and stop.
 *
 * @module
 */

/** One event line of the client, as far as this bot reads it. */
interface BotEvent {
  event: string;
  user?: { name: string; nickname: string };
  msg?: { from: string; nick: string; to?: string; text: string };
  backlog?: boolean;
  code?: string;
  message?: string;
  ref?: unknown;
}

/**
 * The bot's answer to a private message. Pure: `help`, `time` and `ping` are commands,
 * anything else is echoed back.
 *
 * @example
 * ```ts
 * answer("ping", "Bob", () => 0); // "pong"
 * answer("hello", "Bob", () => 0); // "Bob, you said: hello"
 * ```
 */
export function answer(text: string, nick: string, now: () => number = Date.now): string {
  const command = text.trim().toLowerCase();
  if (command === "help") return "I answer private messages. Try: ping, time, or any text.";
  if (command === "ping") return "pong";
  if (command === "time") return `It is ${new Date(now()).toISOString()} (UTC).`;
  const quoted = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  return `${nick}, you said: ${quoted}`;
}

/**
 * Decides what to do with one event line: the command line to send back, or null. Answers
 * private messages from others, live or stored while the bot was away, once each.
 */
export function react(line: string, me: { name: string | null }): string | null {
  let event: BotEvent;
  try {
    event = JSON.parse(line);
  } catch {
    return null;
  }
  if (event.event === "ready" && event.user) me.name = event.user.name;
  if (event.event !== "message" || !event.msg) return null;
  const { msg } = event;
  if (msg.to === undefined || msg.from === me.name || me.name === null) return null;
  return JSON.stringify({ cmd: "send", to: msg.from, text: answer(msg.text, msg.nick) });
}

/** Runs the client in `--json --stay` mode with `args` and answers until stopped. */
export async function runBot(args: string[], signal: AbortSignal): Promise<number> {
  const client = new URL("../client.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      client,
      "--json",
      "--stay",
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const send = (line: string) => writer.write(encoder.encode(line + "\n")).catch(() => {});
  const me = { name: null as string | null };
  const stop = () => void send(JSON.stringify({ cmd: "quit" }));
  signal.addEventListener("abort", stop, { once: true });
  let rest = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      const reply = react(line, me);
      if (reply !== null) await send(reply);
      if (line.includes('"event":"error"') || line.includes('"event":"refused"')) {
        console.error(`bot: ${line}`);
      }
    }
  }
  signal.removeEventListener("abort", stop);
  await writer.close().catch(() => {});
  return (await child.status).code;
}

if (import.meta.main) {
  const controller = new AbortController();
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(name, () => controller.abort());
  }
  Deno.exit(await runBot(Deno.args, controller.signal));
}
