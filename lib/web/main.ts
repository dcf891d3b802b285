/**
 * Entry point of the web client (bundled into `dist/web/app.js` by `deno task build:web`):
 * wires the session logic to the browser (WebSocket, `sessionStorage`, timers, visibility,
 * network changes, notifications) and starts the page.
 *
 * @module
 */

import { ChatClient } from "./client.ts";
import { type Lang, pickLang } from "./i18n.ts";
import { App, type Notifier } from "./ui/app.ts";

const LANG_KEY = "imchat.lang";

function main(): void {
  const root = document.getElementById("app");
  if (!root) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const client = new ChatClient({
    url: `${scheme}//${location.host}/ws`,
    socket: (url) => new WebSocket(url),
    storage: sessionStorage,
    now: () => Date.now(),
    random: () => Math.random(),
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    setTimer: (run, ms) => setTimeout(run, ms),
    clearTimer: (handle) => clearTimeout(handle as number),
  });
  const supported = "Notification" in globalThis;
  const notifier: Notifier = {
    supported,
    permission: () => supported ? Notification.permission : "denied",
    request: () => supported ? Notification.requestPermission() : Promise.resolve("denied"),
    show(title, body, tag) {
      const note = new Notification(title, { body, tag });
      note.onclick = () => {
        globalThis.focus();
        note.close();
      };
    },
  };
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(LANG_KEY);
  } catch {
    saved = null;
  }
  const app = new App(root, {
    client,
    lang: pickLang(navigator.languages ?? [navigator.language], saved),
    saveLang: (lang: Lang) => {
      try {
        localStorage.setItem(LANG_KEY, lang);
      } catch {
        // storage is off: the choice lasts for this page
      }
    },
    notifier,
    now: () => Date.now(),
    offset: (ts) => new Date(ts).getTimezoneOffset(),
    attentive: () => document.visibilityState === "visible" && document.hasFocus(),
  });
  const visible = () => client.setVisible(document.visibilityState === "visible");
  document.addEventListener("visibilitychange", visible);
  globalThis.addEventListener("online", () => client.retryNow());
  globalThis.addEventListener("pagehide", () => client.stop());
  globalThis.addEventListener("pageshow", (event) => {
    if (event.persisted) location.reload();
  });
  setInterval(() => {
    if (client.status === "waiting") app.schedule();
  }, 1000);
  visible();
  app.render();
  client.start();
}

main();
