/**
 * Screenshots of the web client's main screens for the README, at desktop (1280×800) and
 * phone (390×844) sizes, written to `docs/screenshots/`. Starts its own server (in memory)
 * on loopback, fills it with a few users, rooms and messages through the web client's own
 * session logic, and photographs the pages in headless Chromium.
 *
 * Usage: `deno task screenshots` (builds the web client first)
 *
 * @module
 */

import type { Browser, Page } from "playwright-core";
import { parseServerConfig } from "../lib/config/server_config.ts";
import { createLogger } from "../lib/server/log.ts";
import { startServer } from "../lib/server/server.ts";
import { ChatClient } from "../lib/web/client.ts";
import { roomView } from "../lib/web/model.ts";
import { launchChromium } from "./_chromium.ts";
import { buildWeb } from "./build_web.ts";

const OUT = new URL("../docs/screenshots/", import.meta.url).pathname;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const PASSWORD = "password1";

/** Memory storage for the seeding clients. */
class Memory {
  readonly #items = new Map<string, string>();
  getItem = (key: string) => this.#items.get(key) ?? null;
  setItem = (key: string, value: string) => void this.#items.set(key, value);
  removeItem = (key: string) => void this.#items.delete(key);
}

function client(httpPort: number): ChatClient {
  return new ChatClient({
    url: `ws://127.0.0.1:${httpPort}/ws`,
    socket: (url) => new WebSocket(url),
    storage: new Memory(),
    now: Date.now,
    random: Math.random,
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    setTimer: (run, ms) => setTimeout(run, ms),
    clearTimer: (handle) => clearTimeout(handle as number),
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function user(httpPort: number, name: string, nickname: string): Promise<ChatClient> {
  const c = client(httpPort);
  await c.register(name, PASSWORD, nickname);
  await c.login(name, PASSWORD);
  await until(() => c.status === "online", `${name} online`);
  return c;
}

/** Sends and waits for the server's confirmation. */
async function say(c: ChatClient, view: string, text: string): Promise<void> {
  c.open(view);
  c.send(text);
  await until(() => c.outbox.entries.length === 0, "the send");
}

async function seed(httpPort: number): Promise<ChatClient[]> {
  const bob = await user(httpPort, "bob", "Bob");
  const carol = await user(httpPort, "carol", "Carol 陈");
  const dave = await user(httpPort, "dave", "Dave");
  await user(httpPort, "alice", "Alice W.").then((c) => c.logout());
  await bob.create("tea-room", "Tea & cakes", true);
  await bob.setTopic("tea-room", "Green, black or oolong? Friday tasting at 5");
  await carol.join("tea-room");
  await carol.create("deno", "Deno users", true);
  const lobby = roomView("lobby");
  await say(bob, lobby, "Morning everyone! Who's around today?");
  await say(carol, lobby, "Here. Release notes are up: https://example.com/notes");
  await say(dave, lobby, "/me waves from the train");
  await say(bob, lobby, "@alice did the web client land? Works on my phone 👍");
  await say(carol, lobby, "大家好！网页版也支持中文。");
  await say(bob, roomView("tea-room"), "Bringing a sencha and a Darjeeling.");
  await say(carol, roomView("tea-room"), "I'll bake 🍰");
  bob.open("dm:alice");
  bob.send("Lunch at noon?");
  await until(() => bob.outbox.entries.length === 0, "bob's private message");
  return [bob, carol, dave];
}

async function page(browser: Browser, url: string, size: typeof DESKTOP, locale = "en-US") {
  const context = await browser.newContext({ viewport: size, locale, deviceScaleFactor: 1 });
  const p = await context.newPage();
  await p.goto(url);
  return p;
}

async function login(p: Page): Promise<void> {
  await p.fill("#auth-name", "alice");
  await p.fill("#auth-password", PASSWORD);
  await p.click("#auth-submit");
  await p.waitForSelector('#status[data-status="online"]');
  await p.locator("#messages .msg[data-seq]").first().waitFor();
}

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: `${OUT}${name}.png` });
  console.error(`docs/screenshots/${name}.png`);
}

async function main(): Promise<number> {
  const { dir } = await buildWeb();
  const config = parseServerConfig(
    [
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--http-host",
      "127.0.0.1",
      "--http-port",
      "0",
      "--kv",
      ":memory:",
      "--web-dir",
      dir,
      "--rate",
      "0",
    ],
    () => undefined,
    "screenshots",
  );
  const server = await startServer(config, { log: createLogger("silent") });
  const httpPort = server.httpPort!;
  const url = `http://127.0.0.1:${httpPort}/`;
  await Deno.mkdir(OUT, { recursive: true });
  const seeded = await seed(httpPort);
  const browser = await launchChromium();
  try {
    const loginPage = await page(browser, url, DESKTOP);
    await loginPage.click("#tab-register");
    await loginPage.fill("#auth-name", "bob");
    await loginPage.fill("#auth-nick", "Robert");
    await loginPage.locator("#name-hint", { hasText: "taken" }).waitFor();
    await loginPage.click("#tab-login");
    await shot(loginPage, "desktop-login");

    const desktop = await page(browser, url, DESKTOP);
    await login(desktop);
    await desktop.click("#members-button");
    await desktop.locator("#member-list .member").first().waitFor();
    await shot(desktop, "desktop-room");
    await desktop.click('#dm-list [data-view="dm:bob"]');
    await desktop.fill("#composer-input", "Sure, see you there!");
    await desktop.press("#composer-input", "Enter");
    await desktop.locator("#messages .msg.mine[data-seq]").waitFor();
    await shot(desktop, "desktop-private");
    await desktop.click("#browse-button");
    await desktop.locator("#browse-results [data-join]").first().waitFor();
    await shot(desktop, "desktop-browse");

    const chinese = await page(browser, url, DESKTOP, "zh-CN");
    await login(chinese);
    await shot(chinese, "desktop-room-zh");

    const phoneLogin = await page(browser, url, PHONE);
    await shot(phoneLogin, "phone-login");
    const phone = await page(browser, url, PHONE);
    await login(phone);
    await shot(phone, "phone-room");
    await phone.click("#back");
    await phone.locator("#side").waitFor({ state: "visible" });
    await shot(phone, "phone-lists");
  } finally {
    await browser.close();
    for (const c of seeded) c.stop();
    await server.shutdown();
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
