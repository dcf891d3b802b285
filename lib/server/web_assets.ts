/**
 * The web client's files (built by `deno task build:web` into `dist/web/`), read once and
 * served with a strict Content-Security-Policy: only this origin's scripts, styles and
 * WebSocket, no inline code, no framing.
 *
 * @module
 */

/** The policy of every page and asset. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  webmanifest: "application/manifest+json",
};

/** Headers of everything the web client is served with. */
export function securityHeaders(type: string): Headers {
  return new Headers({
    "content-type": type,
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-cache",
  });
}

/** Serves files of one directory; `/` is `index.html`. */
export class WebAssets {
  readonly #dir: string;
  readonly #cache = new Map<string, Uint8Array>();

  constructor(dir: string) {
    this.#dir = dir.endsWith("/") ? dir : `${dir}/`;
  }

  /** The response for `path`, or null when there is no such file. */
  async serve(path: string): Promise<Response | null> {
    const name = path === "/" ? "index.html" : path.slice(1);
    if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(name) || name.includes("..")) return null;
    // Files found are kept (a rebuild needs a restart); a missing one is looked for again.
    let body: Uint8Array | null = this.#cache.get(name) ?? null;
    if (body === null) {
      body = await Deno.readFile(this.#dir + name).catch(() => null);
      if (body === null) return null;
      this.#cache.set(name, body);
    }
    const type = TYPES[name.slice(name.lastIndexOf(".") + 1)] ?? "application/octet-stream";
    return new Response(body.slice(), { headers: securityHeaders(type) });
  }
}
