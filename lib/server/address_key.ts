/**
 * The key under which per-address limits count a remote host: an IPv4 address as it is; an
 * IPv6 address by its network prefix (a /64 by default), because one subscriber usually
 * holds a whole /64 and could otherwise take a fresh address for every attempt. IPv4-mapped
 * IPv6 addresses (`::ffff:192.0.2.1`) count as the IPv4 address. Pure code.
 *
 * @module
 */

/**
 * The limit key of `host` (an address as `Deno.NetAddr.hostname` gives it).
 *
 * @example
 * ```ts
 * addressKey("192.0.2.7", 64); // "192.0.2.7"
 * addressKey("2001:db8:1:2:aaaa::1", 64); // "2001:db8:1:2::/64"
 * addressKey("::ffff:192.0.2.7", 64); // "192.0.2.7"
 * ```
 */
export function addressKey(host: string, ipv6Prefix: number): string {
  const address = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (!address.includes(":")) return address;
  const groups = parseIpv6(address.replace(/%.*$/, ""));
  if (groups === null) return address;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join(".");
  }
  const masked = groups.map((group, i) => {
    const bits = Math.min(16, Math.max(0, ipv6Prefix - 16 * i));
    return bits === 0 ? 0 : group & (0xffff << (16 - bits)) & 0xffff;
  });
  return `${formatIpv6(masked)}/${ipv6Prefix}`;
}

/** The eight 16-bit groups of an IPv6 address, or null when it is not one. */
function parseIpv6(text: string): number[] | null {
  // An embedded IPv4 tail (`::ffff:192.0.2.1`) is two more groups.
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    if ([a, b, c, d].some((byte) => byte > 255)) return null;
    const hex = (high: number, low: number) => ((high << 8) | low).toString(16);
    text = `${text.slice(0, v4.index)}${hex(a, b)}:${hex(c, d)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const words = (half: string) => half === "" ? [] : half.split(":");
  const left = words(halves[0]);
  const right = halves.length === 2 ? words(halves[1]) : [];
  if (![...left, ...right].every((word) => /^[0-9a-fA-F]{1,4}$/.test(word))) return null;
  const zeros = 8 - left.length - right.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) return null;
  const numbers = (list: string[]) => list.map((word) => parseInt(word, 16));
  return [
    ...numbers(left),
    ...new Array(halves.length === 2 ? zeros : 0).fill(0),
    ...numbers(right),
  ];
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as `::`. */
function formatIpv6(groups: number[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLength).join(":")}`;
}
