/**
 * The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key's UTF-8 bytes, or of its
 * hash tag (the text between the first `{` and the next `}`, when not empty), modulo 16384.
 *
 * @module
 */

/** How many hash slots a Redis Cluster has. */
export const SLOTS = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

const encoder = new TextEncoder();

/**
 * The slot of `key`.
 *
 * @example
 * ```ts
 * slotOf("foo"); // 12182
 * slotOf("im:{u:alice}:a") === slotOf("im:{u:alice}:s"); // true
 * ```
 */
export function slotOf(key: string): number {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of encoder.encode(key)) {
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff];
  }
  return crc % SLOTS;
}
