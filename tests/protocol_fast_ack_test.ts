import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { decodePayload } from "../lib/protocol/codec.ts";
import { matchAck } from "../lib/protocol/fast_ack.ts";
import { parseClientMessage } from "../lib/protocol/validate.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);
const ack = (stream: string, upTo: string) => `{"type":"ack","stream":"${stream}","upTo":${upTo}}`;

/** What the general path makes of a payload: the ack's fields, or null for anything else. */
function slowPath(payload: Uint8Array): { stream: string; upTo: number } | null {
  try {
    const message = parseClientMessage(decodePayload(payload));
    return message.type === "ack" ? { stream: message.stream, upTo: message.upTo } : null;
  } catch {
    return null;
  }
}

/** Every payload the fast path takes is read the same by the general path. */
function agrees(text: string): void {
  const payload = utf8(text);
  const fast = matchAck(payload);
  if (fast !== null) deepStrictEqual(fast, slowPath(payload), text);
}

Deno.test("the common shape is recognised", () => {
  deepStrictEqual(matchAck(utf8(ack("#lobby", "12"))), { stream: "#lobby", upTo: 12 });
  deepStrictEqual(matchAck(utf8(ack("@alice", "0"))), { stream: "@alice", upTo: 0 });
  deepStrictEqual(matchAck(utf8(ack("", "7"))), { stream: "", upTo: 7 });
  deepStrictEqual(matchAck(utf8(ack("#a b~!", "9007199254740991"))), {
    stream: "#a b~!",
    upTo: Number.MAX_SAFE_INTEGER,
  });
  deepStrictEqual(matchAck(utf8(ack("x".repeat(100), "1"))), { stream: "x".repeat(100), upTo: 1 });
  deepStrictEqual(matchAck(utf8(JSON.stringify({ type: "ack", stream: "#tea", upTo: 3 }))), {
    stream: "#tea",
    upTo: 3,
  });
});

Deno.test("every other shape is left to the general path", () => {
  const others = [
    ack("#lobby", "012"),
    ack("#lobby", "00"),
    ack("#lobby", "-0"),
    ack("#lobby", "-1"),
    ack("#lobby", "1.0"),
    ack("#lobby", "1e3"),
    ack("#lobby", "1E3"),
    ack("#lobby", "+1"),
    ack("#lobby", "9007199254740992"),
    ack("#lobby", "99999999999999999"),
    ack("#lobby", ""),
    ack("#lobby", " 1"),
    ack("#lobby", "1 "),
    ack("#lobby", '"1"'),
    ack("#lobby", "null"),
    ack("#lobby", "true"),
    ack("x".repeat(101), "1"),
    ack("#lo\\u0062by", "1"),
    ack('#lo\\"bby', "1"),
    ack("#lo\\\\bby", "1"),
    ack("#café", "1"),
    ack("#\u{1f600}", "1"),
    ack("#lo\tbby", "1"),
    ack("#lo\x7fbby", "1"),
    '{"type":"ack","upTo":1,"stream":"#lobby"}',
    '{"stream":"#lobby","type":"ack","upTo":1}',
    '{"type":"ack","stream":"#lobby","upTo":1,"id":3}',
    '{"type":"ack","stream":"#lobby","upTo":1,"upTo":2}',
    '{"type":"ack","stream":"#lobby","upTo":1}}',
    '{"type":"ack","stream":"#lobby","upTo":1} ',
    ' {"type":"ack","stream":"#lobby","upTo":1}',
    '{ "type":"ack","stream":"#lobby","upTo":1}',
    '{"type": "ack","stream":"#lobby","upTo":1}',
    '{"type":"ack", "stream":"#lobby","upTo":1}',
    '{"type":"ack","stream":"#lobby", "upTo":1}',
    '{"type":"ack","stream":"#lobby","upTo": 1}',
    '{"type":"Ack","stream":"#lobby","upTo":1}',
    '{"type":"acks","stream":"#lobby","upTo":1}',
    '{"type":"ack","stream":"#lobby","upto":1}',
    '{"type":"ack","stream":"#lobby"}',
    '{"type":"ack","stream":"#lobby","upTo":}',
    '{"type":"ack","stream":"#lobby,"upTo":1}',
    '{"type":"ack","stream":#lobby,"upTo":1}',
    '{"type":"pong"}',
    "",
    "}",
  ];
  for (const text of others) strictEqual(matchAck(utf8(text)), null, text);
});

Deno.test("every cut of a valid ack and every byte changed stays correct", () => {
  const text = ack("#lobby", "1234");
  const bytes = utf8(text);
  for (let cut = 0; cut < bytes.length; cut++) {
    strictEqual(matchAck(bytes.subarray(0, cut)), null, `cut at ${cut}`);
    strictEqual(matchAck(bytes.subarray(cut + 1)), null, `first ${cut + 1} bytes dropped`);
  }
  for (let at = 0; at < bytes.length; at++) {
    for (let value = 0; value < 256; value++) {
      const changed = bytes.slice();
      changed[at] = value;
      const fast = matchAck(changed);
      if (fast !== null) deepStrictEqual(fast, slowPath(changed), `byte ${at} = ${value}`);
    }
  }
});

Deno.test("random payloads: whatever the fast path takes, the general path reads the same", () => {
  let seed = 15;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const pieces = ["#", "@", "lobby", "a", " ", "\\", '"', "0", "1", "9", "-", ".", "e", "é", "~"];
  for (let i = 0; i < 20_000; i++) {
    let stream = "";
    for (let k = random(8); k > 0; k--) stream += pieces[random(pieces.length)];
    let upTo = "";
    for (let k = random(18); k > 0; k--) upTo += pieces[random(pieces.length)];
    agrees(ack(stream, upTo));
    agrees(ack(stream, String(random(1_000_000))));
  }
});
