/**
 * End to end: the real client program, in line mode (stdin a pipe), against a real server.
 * A second user talks to it through a plain protocol connection.
 */

import assert from "node:assert/strict";
import { ChatConnection } from "../lib/client/connection.ts";
import { LineQueue, readLines } from "../lib/client/ui/prompter.ts";
import { parseServerConfig } from "../lib/config/server_config.ts";
import type { ChatMessage, ServerEvent } from "../lib/protocol/messages.ts";
import { startServer } from "../lib/server/server.ts";

const ROOT = new URL("..", import.meta.url);
const WAIT_MS = 5000;

/** The client program as a subprocess, with a transcript of everything it printed. */
class ClientProcess implements AsyncDisposable {
  readonly transcript: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stdout: LineQueue;
  readonly #stderr: Promise<string>;
  #stdinOpen = true;

  constructor(port: number) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        "client.ts",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
      ],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#stdout = new LineQueue(readLines(this.#child.stdout));
    this.#stderr = new Response(this.#child.stderr).text();
  }

  /** Types lines into the client. */
  async send(...lines: string[]): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(lines.map((l) => l + "\n").join("")));
  }

  /** Ends the client's input (like Ctrl-D). */
  async endInput(): Promise<void> {
    if (!this.#stdinOpen) return;
    this.#stdinOpen = false;
    await this.#stdin.close().catch(() => {});
  }

  /** Reads output lines until one starts with `prefix` (and passes `test`); returns it. */
  async expect(prefix: string, test: (line: string) => boolean = () => true): Promise<string> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error("timeout")), WAIT_MS);
    try {
      for (;;) {
        const line = await this.#stdout.read(undefined, abort.signal);
        if (line === null) break;
        this.transcript.push(line);
        if (line.startsWith(prefix) && test(line)) return line;
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    } finally {
      clearTimeout(timer);
    }
    throw new Error(
      `No line starting with ${JSON.stringify(prefix)} within ${WAIT_MS} ms. Output so far:\n` +
        this.transcript.join("\n"),
    );
  }

  /** Waits for the program to end; returns its exit code, the rest of stdout, and stderr. */
  async finish(): Promise<{ code: number; rest: string[]; stderr: string }> {
    await this.endInput();
    const timer = setTimeout(() => this.#child.kill(), WAIT_MS);
    try {
      const rest: string[] = [];
      for (let line; (line = await this.#stdout.read()) !== null;) rest.push(line);
      this.transcript.push(...rest);
      const { code } = await this.#child.status;
      return { code, rest, stderr: await this.#stderr };
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.finish();
    } catch {
      // already finished
    }
  }
}

/** A second user on a plain protocol connection, recording what it receives. */
async function otherUser(port: number, name: string, nickname: string) {
  const conn = await ChatConnection.open({ host: "127.0.0.1", port });
  const events: ServerEvent[] = [];
  conn.on((event) => events.push(event as ServerEvent));
  await conn.request("register", { name, password: "secret123", nickname });
  await conn.request("login", { name, password: "secret123" });
  const received = async (test: (msg: ChatMessage) => boolean): Promise<ChatMessage> => {
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline) {
      for (const event of events) if (event.type === "message" && test(event.msg)) return event.msg;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`${name} did not receive the message; got ${JSON.stringify(events)}`);
  };
  return {
    conn,
    received,
    async [Symbol.asyncDispose]() {
      conn.close();
      await conn.closed;
    },
  };
}

function fields(line: string): string[] {
  return line.split("\t");
}

function startTestServer() {
  return startServer(parseServerConfig(
    ["--port", "0", "--host", "127.0.0.1", "--kv", ":memory:", "--log-level", "silent"],
    () => undefined,
    "test",
  ));
}

Deno.test("line mode: register, log in, chat with another user, log out, exit", async () => {
  await using server = await startTestServer();
  const port = server.addr.port;
  await using client = new ClientProcess(port);

  await client.expect("OK\tconnect");
  await client.expect("ASK\tMain menu");

  // Register (menu 2): name, password, nickname.
  await client.send("2", "alice", "secret123", "Alice");
  assert.match(await client.expect("OK\tregister"), /Account "alice" created/);

  // A wrong password gets a plain sentence and the menu again.
  await client.send("1", "alice", "wrong-password");
  assert.equal(
    await client.expect("ERROR"),
    "ERROR\tWRONG_PASSWORD\tWrong password. Try again.",
  );
  await client.expect("ASK\tMain menu");

  // The right one opens the chat.
  await client.send("1", "alice", "secret123");
  assert.equal(await client.expect("OK\tlogin"), "OK\tlogin\tLogged in as Alice.");
  await client.expect("BACKLOG");

  await using bob = await otherUser(port, "bob", "Bob");
  assert.deepEqual(fields(await client.expect("ONLINE")), ["ONLINE", "bob", "Bob"]);

  // A group message, spaces kept, reaches the other user.
  await client.send("hello   everyone  !");
  const sent = fields(await client.expect("MSG"));
  assert.deepEqual([sent[3], sent[4], sent[5], sent[6]], [
    "alice",
    "Alice",
    "sent",
    "hello   everyone  !",
  ]);
  await client.expect("OK\tsend");
  const group = await bob.received((m) => m.from === "alice" && m.to === undefined);
  assert.equal(group.text, "hello   everyone  !");
  assert.equal(group.id, Number(sent[1]));

  // A private message: the text after the name keeps all its spaces.
  await client.send("/msg bob just  for   you");
  const pm = fields(await client.expect("PM"));
  assert.deepEqual(pm.slice(3), ["alice", "bob", "Alice", "sent", "just  for   you"]);
  assert.equal((await bob.received((m) => m.to === "bob")).text, "just  for   you");

  // A private message to nobody: a plain sentence.
  await client.send("/msg nobody hi");
  assert.match(await client.expect("ERROR"), /^ERROR\tUNKNOWN_USER\tThere is no user "nobody"/);

  // Who is online.
  await client.send("/users");
  const users = [await client.expect("USER"), await client.expect("USER")].sort();
  assert.deepEqual(users, ["USER\talice\tAlice", "USER\tbob\tBob"]);
  assert.equal(await client.expect("OK"), "OK\tusers\t2 online.");

  // Hostile text from the other user arrives neutralised.
  const evil = "look\x1b[2J\x1b[H\x1b]0;pwned\x07\rfake\u202Eevil\x9b31m\nsecond line";
  await bob.conn.request("send", { text: evil });
  const shown = fields(await client.expect("MSG", (l) => l.includes("\tbob\t")));
  assert.equal(shown[5], "new");
  assert.equal(shown[6], "look␛[2J␛[H␛]0;pwned␇␍fake�evil�31m↵second line");
  await bob.conn.request("send", { to: "alice", text: "psst\x1b[31m" });
  const pmIn = fields(await client.expect("PM", (l) => l.includes("\tnew\t")));
  assert.deepEqual(pmIn.slice(3), ["bob", "alice", "Bob", "new", "psst␛[31m"]);

  // The numbered menu: online count (5), change nickname (6), ranking (7).
  await client.send("/menu", "5");
  assert.match(await client.expect("COUNT"), /^COUNT\t2\t2/);
  await client.send("/menu", "6", "Alicia");
  assert.match(await client.expect("OK\tnick"), /Alicia/);
  await client.send("/menu", "7");
  assert.match(await client.expect("TOP"), /^TOP\t/);
  await client.expect("OK\ttop");

  // Unknown command: a helpful error, still in the chat.
  await client.send("/xyz");
  assert.match(await client.expect("ERROR"), /^ERROR\tUSAGE\tUnknown command "\/xyz"/);

  // /quit logs out and goes back to the menu; 3 leaves.
  await client.send("/quit");
  assert.equal(await client.expect("OK\tlogout"), "OK\tlogout\tLogged out.");
  await client.expect("ASK\tMain menu");
  await client.send("3");
  await client.expect("OK\texit");
  const { code, stderr } = await client.finish();
  assert.equal(code, 0);
  assert.equal(stderr, "");

  // Nothing the other user sent reached the terminal raw.
  const output = client.transcript.join("\n");
  for (const raw of ["\x1b", "\x07", "\x9b", "\u202e", "\r"]) {
    assert.ok(!output.includes(raw), `raw ${JSON.stringify(raw)} in the output`);
  }
});

Deno.test("line mode: end of input in the chat logs out and exits 0", async () => {
  await using server = await startTestServer();
  await using client = new ClientProcess(server.addr.port);
  await client.send("2", "carol", "secret123", "Carol", "1", "carol", "secret123", "bye all");
  await client.expect("OK\tlogin");
  await client.expect("OK\tsend");
  await client.endInput();
  await client.expect("OK\tlogout", (l) => l.includes("End of input"));
  const { code, stderr } = await client.finish();
  assert.equal(code, 0);
  assert.equal(stderr, "");
});

Deno.test("line mode: a server that is not running gets a clear message and exit 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await using client = new ClientProcess(port);
  const expected = `ERROR\tCONNECT\tCannot reach the server at 127.0.0.1:${port} — is it running?`;
  assert.equal(await client.expect("ERROR"), expected);
  // Trying to log in says the same; at the end of input the client gives up with code 1.
  await client.send("1", "alice", "secret123");
  assert.equal(await client.expect("ERROR"), expected);
  const { code, stderr } = await client.finish();
  assert.equal(code, 1);
  assert.equal(stderr, "");
  assert.doesNotMatch(client.transcript.join("\n"), /\bat .*\.ts:\d+|Error:|Uncaught/);
});
