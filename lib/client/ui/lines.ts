/**
 * Splits a byte stream (stdin) into lines, for `--json` mode.
 *
 * @module
 */

/**
 * Lines of a byte stream: UTF-8 decoded across chunk boundaries, `\n` or `\r\n` line ends,
 * and a last line without a line break still yielded. Ends early when `signal` aborts.
 *
 * @example
 * ```ts
 * for await (const line of readLines(Deno.stdin.readable)) console.log(line);
 * ```
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  const reader = stream.getReader();
  const aborted = new Promise<{ done: true; value: undefined }>((resolve) => {
    if (signal?.aborted) resolve({ done: true, value: undefined });
    signal?.addEventListener("abort", () => resolve({ done: true, value: undefined }), {
      once: true,
    });
  });
  try {
    for (;;) {
      const { value, done } = await Promise.race([reader.read(), aborted]);
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf("\n")) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        yield line.endsWith("\r") ? line.slice(0, -1) : line;
      }
    }
    buffered += decoder.decode();
    if (buffered !== "") yield buffered.endsWith("\r") ? buffered.slice(0, -1) : buffered;
  } finally {
    reader.releaseLock();
  }
}
