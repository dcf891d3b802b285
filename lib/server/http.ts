/**
 * The HTTP listener of a node (`--http-port`): WebSocket sessions at `/ws` (after the origin
 * check), the web client at `/`, and `/metrics` and `/healthz` (to loopback clients unless
 * `--metrics-open`).
 *
 * @module
 */

import type { ServerConfig } from "../config/server_config.ts";
import type { Logger } from "./log.ts";
import { securityHeaders, WebAssets } from "./web_assets.ts";

/** What the listener serves. */
export interface HttpRoutes {
  /** A WebSocket was accepted (it opens after the response). */
  websocket(socket: WebSocket, remote: string): void;
  metrics(): Promise<string> | string;
  health(): Promise<{ ok: boolean; text: string }>;
}

/** A running HTTP listener. */
export interface HttpListener {
  readonly port: number;
  stop(): Promise<void>;
}

/** The origins allowed to open WebSockets: the configured ones, or the request's own. */
export function originAllowed(
  origin: string | null,
  host: string | null,
  secure: boolean,
  allowed: readonly string[],
): boolean {
  if (origin === null) return true; // not a browser
  if (allowed.length > 0) return allowed.includes(origin);
  return host !== null && origin === `${secure ? "https" : "http"}://${host}`;
}

function loopback(hostname: string): boolean {
  return hostname.startsWith("127.") || hostname === "::1" || hostname === "::ffff:127.0.0.1";
}

/** Starts the listener; `reusePort` when the node runs several workers. */
export async function startHttp(
  config: ServerConfig,
  routes: HttpRoutes,
  log: Logger,
  reusePort: boolean,
): Promise<HttpListener> {
  const web = new WebAssets(config.webDir);
  const secure = config.tlsCert !== undefined;
  const listening = Promise.withResolvers<number>();
  const tls = secure
    ? {
      cert: await Deno.readTextFile(config.tlsCert!),
      key: await Deno.readTextFile(config.tlsKey!),
    }
    : {};
  const server = Deno.serve({
    hostname: config.httpHost,
    port: config.httpPort,
    reusePort,
    ...tls,
    onListen: ({ port }) => {
      log.info("http_listening", { host: config.httpHost, port, tls: secure });
      listening.resolve(port);
    },
  }, async (request, info) => {
    const url = new URL(request.url);
    const addr = info.remoteAddr as Deno.NetAddr;
    if (url.pathname === "/ws") {
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return new Response("WebSocket only\n", { status: 426 });
      }
      const origin = request.headers.get("origin");
      if (!originAllowed(origin, request.headers.get("host"), secure, config.allowedOrigins)) {
        log.info("origin_refused", { origin, remote: addr.hostname });
        return new Response("origin not allowed\n", { status: 403 });
      }
      const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 0 });
      routes.websocket(socket, `${addr.hostname}:${addr.port}`);
      return response;
    }
    if (url.pathname === "/metrics" || url.pathname === "/healthz") {
      if (!config.metricsOpen && !loopback(addr.hostname)) {
        return new Response("forbidden\n", { status: 403 });
      }
      if (url.pathname === "/metrics") {
        return new Response(await routes.metrics(), {
          headers: { "content-type": "text/plain; version=0.0.4" },
        });
      }
      const { ok, text } = await routes.health();
      return new Response(text, { status: ok ? 200 : 503 });
    }
    if (request.method === "GET" || request.method === "HEAD") {
      const file = await web.serve(url.pathname);
      if (file) return file;
      if (url.pathname === "/") {
        return new Response("The web client is not built: run deno task build:web\n", {
          status: 404,
          headers: securityHeaders("text/plain; charset=utf-8"),
        });
      }
    }
    return new Response("not found\n", { status: 404 });
  });
  const port = await listening.promise;
  return { port, stop: () => server.shutdown() };
}
