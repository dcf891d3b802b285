import { equal } from "node:assert/strict";
import { addressKey } from "../lib/server/address_key.ts";

Deno.test("address key: IPv4 by address", () => {
  equal(addressKey("192.0.2.7", 64), "192.0.2.7");
  equal(addressKey("127.0.0.1", 64), "127.0.0.1");
});

Deno.test("address key: IPv6 by its /64, however it is written", () => {
  const key = "2001:db8:1:2::/64";
  for (
    const host of [
      "2001:db8:1:2::1",
      "2001:db8:1:2:aaaa:bbbb:cccc:dddd",
      "2001:0DB8:0001:0002:0000:0000:0000:0001",
      "[2001:db8:1:2::ffff]",
      "2001:db8:1:2::1%eth0",
      "2001:db8:1:2:0:0:192.0.2.1",
    ]
  ) equal(addressKey(host, 64), key, host);
  equal(addressKey("2001:db8:1:3::1", 64), "2001:db8:1:3::/64", "the next /64 is another key");
  equal(addressKey("::1", 64), "::/64");
  equal(addressKey("fe80::1:2:3:4", 64), "fe80::/64");
});

Deno.test("address key: the prefix length is configurable", () => {
  equal(addressKey("2001:db8:1:2::1", 48), "2001:db8:1::/48");
  equal(addressKey("2001:db8:1:2::1", 56), "2001:db8:1::/56");
  equal(addressKey("2001:db8:1:2ff::1", 56), "2001:db8:1:200::/56");
  equal(addressKey("2001:db8:1:2::1", 128), "2001:db8:1:2::1/128");
  equal(addressKey("2001:db8::1", 1), "::/1");
  equal(addressKey("8001:db8::1", 1), "8000::/1");
});

Deno.test("address key: IPv4-mapped IPv6 is the IPv4 address", () => {
  equal(addressKey("::ffff:192.0.2.7", 64), "192.0.2.7");
  equal(addressKey("::ffff:c000:207", 64), "192.0.2.7");
});

Deno.test("address key: anything else is kept as it is", () => {
  equal(addressKey("not-an-address", 64), "not-an-address");
  equal(addressKey("1:2:3", 64), "1:2:3");
  equal(addressKey("1::2::3", 64), "1::2::3");
  equal(addressKey("::ffff:300.1.1.1", 64), "::ffff:300.1.1.1");
});
