/**
 * Drives the real client program in a real pseudo-terminal: tmux on a private socket (the
 * user's own tmux is never touched), `send-keys` to type, `paste-buffer -p` to paste with
 * bracketed paste, `capture-pane` to read the screen. Waits are for what is expected, with
 * a deadline.
 */

const ROOT = new URL("..", import.meta.url).pathname;
let counter = 0;

/** Options of {@linkcode TmuxClient.start}. */
export interface TmuxOptions {
  port: number;
  args?: string[];
  columns?: number;
  rows?: number;
  /** State directory (default: a fresh temporary one). */
  stateDir?: string;
  env?: Record<string, string>;
}

async function run(args: string[], input?: string): Promise<string> {
  // -u: UTF-8 whatever the locale of the machine running the tests.
  const child = new Deno.Command("tmux", {
    args: ["-u", ...args],
    env: { LANG: "C.UTF-8" },
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const out = await child.output();
  if (out.code !== 0) {
    throw new Error(`tmux ${args[2]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** The client running in a tmux pane. */
export class TmuxClient implements AsyncDisposable {
  readonly socket: string;
  readonly session = "client";
  readonly stateDir: string;
  #ownDir: boolean;

  private constructor(socket: string, stateDir: string, ownDir: boolean) {
    this.socket = socket;
    this.stateDir = stateDir;
    this.#ownDir = ownDir;
  }

  /** Starts the client (with `--no-color`, so the screen text can be asserted). */
  static async start(options: TmuxOptions): Promise<TmuxClient> {
    const socket = `imchat-test-${Deno.pid}-${++counter}`;
    const stateDir = options.stateDir ?? await Deno.makeTempDir({ prefix: "imchat-state-" });
    const client = new TmuxClient(socket, stateDir, options.stateDir === undefined);
    const env = Object.entries({ LANG: "C.UTF-8", ...options.env })
      .map(([k, v]) => `${k}=${shellQuote(v)}`).join(" ");
    const command = [
      `env ${env}`,
      shellQuote(Deno.execPath()),
      "run -q --allow-net --allow-read --allow-write --allow-env --allow-sys",
      shellQuote(`${ROOT}client.ts`),
      `--port ${options.port} --state-dir ${shellQuote(stateDir)} --no-color`,
      ...(options.args ?? []).map(shellQuote),
      // The pane stays after the program ends, showing its exit status.
      '; echo "[exited $?]"; sleep 3600',
    ].join(" ");
    await run([
      "-L",
      socket,
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-s",
      client.session,
      "-x",
      String(options.columns ?? 100),
      "-y",
      String(options.rows ?? 30),
      command,
    ]);
    return client;
  }

  #tmux(...args: string[]): Promise<string> {
    return run(["-L", this.socket, ...args]);
  }

  /** Types text literally. */
  async type(text: string): Promise<void> {
    await this.#tmux("send-keys", "-t", this.session, "-l", text);
  }

  /** Presses keys by tmux name: `Enter`, `C-c`, `M-2`, `Tab`, `Up`. */
  async keys(...names: string[]): Promise<void> {
    await this.#tmux("send-keys", "-t", this.session, ...names);
  }

  /** Pastes text as a terminal does with bracketed paste on. */
  async paste(text: string): Promise<void> {
    await run(["-L", this.socket, "load-buffer", "-b", "paste", "-"], text);
    await this.#tmux("paste-buffer", "-p", "-d", "-b", "paste", "-t", this.session);
  }

  /** The screen's text now. */
  async screen(): Promise<string> {
    return await this.#tmux("capture-pane", "-p", "-t", this.session);
  }

  /** Waits until the screen passes `test`; returns that screen. */
  async waitFor(what: string, test: (screen: string) => boolean, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    let screen = "";
    while (Date.now() < deadline) {
      screen = await this.screen();
      if (test(screen)) return screen;
      await new Promise((r) => setTimeout(r, 30));
    }
    throw new Error(`Timed out waiting for ${what}. Screen:\n${screen}`);
  }

  /** Waits for a text on screen. */
  waitForText(text: string, ms?: number): Promise<string> {
    return this.waitFor(JSON.stringify(text), (s) => s.includes(text), ms);
  }

  /** Resizes the terminal. */
  async resize(columns: number, rows: number): Promise<void> {
    await this.#tmux(
      "resize-window",
      "-t",
      this.session,
      "-x",
      String(columns),
      "-y",
      String(rows),
    );
  }

  /** Waits until the program has exited; returns its exit status. */
  async exited(ms = 10_000): Promise<number> {
    const screen = await this.waitFor("the program to exit", (s) => /\[exited \d+\]/.test(s), ms);
    return Number(/\[exited (\d+)\]/.exec(screen)![1]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#tmux("kill-server").catch(() => {});
    if (this.#ownDir) await Deno.remove(this.stateDir, { recursive: true }).catch(() => {});
  }
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
