/**
 * The in-memory fake server (`_fake_chat.ts`) behind a real TCP listener with protocol
 * framing, so the real client program can be run against it (in tmux) while no real server
 * is at hand, and tests can assert on every frame the client sent.
 */

import { decodePayload, encodeMessage } from "../lib/protocol/codec.ts";
import { ChatError } from "../lib/protocol/errors.ts";
import { FrameDecoder } from "../lib/protocol/frame.ts";
import { FakeChat, FakeLink } from "./_fake_chat.ts";

/** A listening fake server. */
export interface FakeTcp extends AsyncDisposable {
  chat: FakeChat;
  port: number;
}

/** Starts the fake server on 127.0.0.1 and a free port. */
export function startFakeTcp(chat = new FakeChat()): FakeTcp {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      serve(chat, conn).finally(() => conns.delete(conn));
    }
  })().catch(() => {});
  return {
    chat,
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed already
        }
      }
      await serving;
    },
  };
}

async function serve(chat: FakeChat, conn: Deno.Conn): Promise<void> {
  const link = new FakeLink(chat);
  chat.links.add(link);
  let chain = Promise.resolve();
  const write = (value: object) => {
    const bytes = encodeMessage(value, 1 << 24);
    chain = chain.then(async () => {
      for (let o = 0; o < bytes.length;) o += await conn.write(bytes.subarray(o));
    }).catch(() => {});
  };
  // Events of the login sequence are written after the `ok`, as the protocol says.
  let held: object[] | null = null;
  link.on((event) => held ? held.push(event) : write(event));
  link.closed.then(() => {
    try {
      conn.close();
    } catch {
      // closed already
    }
  });
  const decoder = new FrameDecoder(1 << 24);
  const buffer = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      for (const frame of decoder.push(buffer.subarray(0, n))) {
        const { type, id, ...fields } = decodePayload(frame);
        if (type === "ack" || type === "pong") {
          link.notify({ type, ...fields } as never);
          continue;
        }
        const exclusive = type === "login" || type === "resume";
        if (exclusive) held = [];
        await link.request(type as never, fields).then(
          (result) => write({ type: "ok", re: id, ...(result as object) }),
          (error) =>
            write(
              error instanceof ChatError
                ? {
                  type: "error",
                  re: id,
                  code: error.code,
                  message: error.message,
                  ...(error.retryAfter ? { retryAfter: error.retryAfter } : {}),
                }
                : { type: "error", re: id, code: "INTERNAL", message: String(error) },
            ),
        );
        if (exclusive) {
          await Promise.resolve();
          const events = held ?? [];
          held = null;
          for (const event of events) write(event);
        }
      }
    }
  } catch {
    // reset
  } finally {
    link.drop();
  }
}

if (import.meta.main) {
  const fake = startFakeTcp();
  fake.chat.account("bob", "小明");
  console.log(fake.port);
}
