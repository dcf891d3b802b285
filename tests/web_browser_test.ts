/**
 * The web client end to end: real headless Chromium (Playwright) against the real server,
 * with terminal-protocol users over TCP beside the browser users. Every case runs for a
 * store backend given as a parameter.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { type Backend, startTestServer, type TestServer } from "./_harness.ts";
import { freePort, startRedis } from "./_redis.ts";
import { launchBrowser, openUser, registerIn, webDir } from "./_browser.ts";
import { SESSION_KEY } from "../lib/web/client.ts";
import { upgradeStatus } from "./_upgrade.ts";

/** One case: a browser and a fresh way to start servers on the backend. */
type BrowserCase = [
  name: string,
  run: (ctx: { browser: Browser; backend: Backend; dir: string }) => Promise<void>,
];

function serverArgs(dir: string, httpPort = 0): string[] {
  return [
    "--http-port",
    String(httpPort),
    "--http-host",
    "127.0.0.1",
    "--web-dir",
    dir,
    "--rate",
    "0",
  ];
}

function urlOf(server: TestServer): string {
  return `http://127.0.0.1:${server.server.httpPort}/`;
}

/** The texts of the messages on screen, oldest first. */
function texts(page: Page): Promise<string[]> {
  return page.$$eval("#messages .msg[data-seq] .text", (els) => els.map((e) => e.textContent!));
}

/** The page's document, as far as the functions below use it (they run in the browser). */
declare const document: {
  querySelectorAll(selector: string): ArrayLike<{ textContent: string | null; href?: string }>;
};

/** Waits until a delivered message with exactly `text` is on screen. */
async function seeMessage(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (want) =>
      Array.from(document.querySelectorAll("#messages .msg[data-seq] .text"))
        .some((e) => e.textContent === want),
    text,
    { timeout: 10_000 },
  );
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#composer-input", text);
  await page.press("#composer-input", "Enter");
}

/** The unread badge of a room or conversation in the side lists. */
function badge(page: Page, view: string) {
  return page.locator(
    `#room-list [data-view="${view}"] .badge, #dm-list [data-view="${view}"] .badge`,
  );
}

const cases: BrowserCase[] = [
  [
    "two browser users and a terminal user chat in a room and privately",
    async ({ browser, backend, dir }) => {
      await using server = await startTestServer(backend, serverArgs(dir));
      const url = urlOf(server);
      const alice = await openUser(browser, url);
      const bob = await openUser(browser, url);
      await registerIn(alice.page, "alice");
      await registerIn(bob.page, "bob");
      const carol = await server.user("carol");

      await say(alice.page, "hello from alice");
      await seeMessage(bob.page, "hello from alice");
      await carol.next("message", (e) => e.msg.text === "hello from alice");
      await carol.request("send", { room: "lobby", text: "hi from the terminal" });
      await seeMessage(alice.page, "hi from the terminal");
      await seeMessage(bob.page, "hi from the terminal");
      await say(bob.page, "hello carol");
      await carol.next("message", (e) => e.msg.text === "hello carol" && e.msg.from === "bob");

      // alice writes to bob privately; bob is in the lobby: an unread badge and a notification.
      await alice.page.click('#online-list [data-view="dm:bob"]');
      await say(alice.page, "a secret for bob");
      await badge(bob.page, "dm:alice").filter({ hasText: "1" }).waitFor();
      assert.deepEqual(bob.log.notifications.map((n) => n.body), ["a secret for bob"]);
      await bob.page.click('#dm-list [data-view="dm:alice"]');
      await seeMessage(bob.page, "a secret for bob");
      await badge(bob.page, "dm:alice").waitFor({ state: "detached" });
      await say(bob.page, "got it");
      await seeMessage(alice.page, "got it");

      // The terminal user and a browser user privately, both ways.
      await carol.request("send", { to: "bob", text: "from the terminal, privately" });
      await badge(bob.page, "dm:carol").filter({ hasText: "1" }).waitFor();
      await bob.page.click('#dm-list [data-view="dm:carol"]');
      await seeMessage(bob.page, "from the terminal, privately");
      await say(bob.page, "back to the terminal");
      await carol.next(
        "message",
        (e) => e.msg.text === "back to the terminal" && e.msg.to === "carol",
      );

      // A mention while bob looks elsewhere: highlighted, counted, notified.
      await carol.request("send", { room: "lobby", text: "@bob are you there?" });
      await bob.page.locator('#room-list [data-view="#lobby"].mentioned .badge').waitFor();
      assert.equal(bob.log.notifications.at(-1)?.body, "@bob are you there?");
      await bob.page.click('#room-list [data-view="#lobby"]');
      await bob.page.locator("#messages .msg.mentions-me .mention.me").waitFor();
      await badge(bob.page, "#lobby").waitFor({ state: "detached" });
      assert.equal(
        (await texts(bob.page)).filter((t) => t === "hello from alice").length,
        1,
        "each message once",
      );

      // Rooms: alice creates one, bob finds and joins it, the member list shows who is online.
      await alice.page.click("#browse-button");
      await alice.page.fill("#new-room", "tea-room");
      await alice.page.fill("#new-title", "Tea");
      await alice.page.click("#create-button");
      await alice.page.locator("#chat-title", { hasText: "#tea-room" }).waitFor();
      await bob.page.click("#browse-button");
      await bob.page.fill("#browse-query", "tea");
      await bob.page.click('[data-join="tea-room"]');
      await bob.page.locator("#chat-title", { hasText: "#tea-room" }).waitFor();
      await alice.page.click("#members-button");
      await alice.page.locator('#member-list [data-user="bob"].online').waitFor();
      await bob.page.click("#topic-button");
      await bob.page.fill("#topic-input", "green or black");
      await bob.page.press("#topic-input", "Enter");
      await alice.page.locator("#chat-topic", { hasText: "green or black" }).waitFor();
      await say(bob.page, "in the tea room");
      await seeMessage(alice.page, "in the tea room");
      await bob.page.click("#leave-button");
      await bob.page.locator('#room-list [data-view="#tea-room"]').waitFor({ state: "detached" });
      await alice.page.locator('#member-list [data-user="bob"]').waitFor({ state: "detached" });
      assert.deepEqual([...alice.log.errors, ...bob.log.errors], []);
      await alice.context.close();
      await bob.context.close();
    },
  ],
  [
    "messages sent while a user is away arrive after a page reload, each once",
    async ({ browser, backend, dir }) => {
      await using server = await startTestServer(backend, serverArgs(dir));
      const url = urlOf(server);
      const bob = await openUser(browser, url);
      await registerIn(bob.page, "bob");
      const carol = await server.user("carol");
      await carol.request("send", { room: "lobby", text: "before the reload" });
      await seeMessage(bob.page, "before the reload");
      const token = await bob.page.evaluate((key) => sessionStorage.getItem(key), SESSION_KEY);
      assert.match(token ?? "", /"token":"[A-Za-z0-9_-]{43}"/);

      // A reload while online: the same session comes back without the login form.
      await bob.page.reload();
      await bob.page.waitForSelector('#status[data-status="online"]');
      await seeMessage(bob.page, "before the reload");

      // Away (the tab shows another page), messages come, back again.
      await bob.page.goto("about:blank");
      await carol.waitFor(
        (events) => events.some((e) => e.type === "presence" && e.user.name === "bob" && !e.online),
        "bob offline",
      );
      await carol.request("send", { room: "lobby", text: "while bob was away" });
      await carol.request("send", { to: "bob", text: "a private word while away" });
      await bob.page.goto(url);
      await bob.page.waitForSelector('#status[data-status="online"]');
      assert.equal(await bob.page.locator("#auth-form").count(), 0, "no login form");
      await seeMessage(bob.page, "while bob was away");
      await badge(bob.page, "dm:carol").filter({ hasText: "1" }).waitFor();
      assert.deepEqual(await texts(bob.page), [
        "before the reload",
        "while bob was away",
      ]);
      await bob.page.click('#dm-list [data-view="dm:carol"]');
      await seeMessage(bob.page, "a private word while away");
      assert.deepEqual(bob.log.errors, []);
      await bob.context.close();
    },
  ],
  [
    "after a server restart the page reconnects, resumes, and sends what was written meanwhile",
    async ({ browser, backend, dir }) => {
      // The second server reopens the first one's data: the same KV file or Redis prefix.
      const store = {
        kvPath: `${await Deno.makeTempDir()}/chat.kv`,
        redisPrefix: `w${Date.now()}:`,
      };
      const kvPath = store.kvPath;
      const httpPort = freePort();
      let server = await startTestServer(backend, serverArgs(dir, httpPort), store);
      try {
        const url = urlOf(server);
        const alice = await openUser(browser, url);
        const bob = await openUser(browser, url);
        await registerIn(alice.page, "alice");
        await registerIn(bob.page, "bob");
        await say(alice.page, "before the restart");
        await seeMessage(bob.page, "before the restart");

        await server[Symbol.asyncDispose]();
        await alice.page.waitForSelector('#status[data-status="waiting"]');
        await say(alice.page, "written while the server was down");
        await alice.page.locator("#messages .msg.pending", {
          hasText: "written while the server was down",
        }).waitFor();
        server = await startTestServer(backend, serverArgs(dir, httpPort), store);

        await alice.page.waitForSelector('#status[data-status="online"]', { timeout: 20_000 });
        await bob.page.waitForSelector('#status[data-status="online"]', { timeout: 20_000 });
        await seeMessage(bob.page, "written while the server was down");
        await alice.page.locator("#messages .msg.pending").waitFor({ state: "detached" });
        assert.deepEqual(await texts(bob.page), [
          "before the restart",
          "written while the server was down",
        ]);
        await say(bob.page, "and back");
        await seeMessage(alice.page, "and back");
        const carol = await server.user("carol");
        const history = await carol.request("history", { room: "lobby" });
        assert.deepEqual(history.messages.map((m) => m.text), [
          "before the restart",
          "written while the server was down",
          "and back",
        ]);
        await alice.context.close();
        await bob.context.close();
      } finally {
        await server[Symbol.asyncDispose]();
        await Deno.remove(kvPath.slice(0, kvPath.lastIndexOf("/")), { recursive: true });
      }
    },
  ],
  [
    "hostile text, nicknames and topics show as text",
    async ({ browser, backend, dir }) => {
      await using server = await startTestServer(backend, serverArgs(dir));
      const url = urlOf(server);
      const bob = await openUser(browser, url);
      await registerIn(bob.page, "bob");
      const mallory = await server.connect();
      const evilNick = "<img src=x onerror=alert(1)>";
      await mallory.request("register", {
        name: "mallory",
        password: "password1",
        nickname: evilNick,
      });
      await mallory.request("login", { name: "mallory", password: "password1" });
      await mallory.next("backlog");
      const hostile = [
        `<img src=x onerror="alert(1);window.__pwned=1">`,
        `<script>alert(2);window.__pwned=1</script>`,
        `javascript:alert(3)`,
        `<a href="javascript:alert(4)">click</a>`,
        `https://example.com/"><svg onload=alert(5)>`,
        `&lt;b&gt;not bold&lt;/b&gt; <style>body{display:none}</style>`,
        "\u202eevil\u202c and \x1b[31mred",
      ];
      for (const text of hostile) await mallory.request("send", { room: "lobby", text });
      await mallory.request("topic", { room: "lobby", topic: `<b onmouseover=alert(6)>t</b>` });
      await mallory.request("send", { to: "bob", text: `<iframe src="javascript:alert(7)">` });
      await seeMessage(bob.page, hostile[5]);
      await bob.page.locator("#chat-topic", { hasText: "<b onmouseover=alert(6)>t</b>" }).waitFor();
      const shown = await texts(bob.page);
      assert.deepEqual(shown.slice(0, 6), hostile.slice(0, 6));
      assert.equal(shown[6], "\ufffdevil\ufffd and \u241b[31mred");
      const nicks = await bob.page.$$eval(
        "#messages .msg .nick",
        (els) => els.map((e) => e.textContent),
      );
      assert.ok(nicks.every((n) => n === evilNick));
      await bob.page.click('#dm-list [data-view="dm:mallory"]');
      await seeMessage(bob.page, `<iframe src="javascript:alert(7)">`);
      const dom = await bob.page.evaluate(() => ({
        img: document.querySelectorAll("#app img").length,
        script: document.querySelectorAll("#app script").length,
        svg: document.querySelectorAll("#app svg, #app iframe, #app style").length,
        hrefs: Array.from(document.querySelectorAll("#app a")).map((a) => a.href),
        pwned: (globalThis as Record<string, unknown>).__pwned ?? null,
      }));
      assert.deepEqual(dom, { img: 0, script: 0, svg: 0, hrefs: [], pwned: null });
      await bob.page.click('#room-list [data-view="#lobby"]');
      await seeMessage(bob.page, hostile[4]);
      const hrefs = await bob.page.$$eval(
        "#messages a",
        (els) => els.map((a) => a.getAttribute("href")),
      );
      assert.deepEqual(hrefs, ["https://example.com/"]);
      assert.deepEqual(bob.log.dialogs, []);
      assert.deepEqual(bob.log.errors, []);
      const page = await fetch(url);
      await page.body?.cancel();
      const csp = page.headers.get("content-security-policy") ?? "";
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      await bob.context.close();
    },
  ],
  [
    "a WebSocket from a foreign origin is refused with 403",
    async ({ browser, backend, dir }) => {
      await using server = await startTestServer(backend, serverArgs(dir));
      const port = server.server.httpPort!;
      assert.match(await upgradeStatus(port, "http://evil.example"), /^HTTP\/1\.1 403/);
      assert.match(await upgradeStatus(port, `http://127.0.0.1:${port}`), /^HTTP\/1\.1 101/);
      // A page of another origin (another port) tries it from a real browser.
      await using foreign = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        () =>
          new Response("<!doctype html><title>elsewhere</title>", {
            headers: { "content-type": "text/html" },
          }),
      );
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${foreign.addr.port}/`);
      const result = await page.evaluate((target) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(target);
          ws.onopen = () => resolve("open");
          ws.onclose = () => resolve("refused");
        }), `ws://127.0.0.1:${port}/ws`);
      assert.equal(result, "refused");
      await context.close();
    },
  ],
  [
    "Chinese by browser language, switchable; phone layout; history scrolls back to the start",
    async ({ browser, backend, dir }) => {
      await using server = await startTestServer(backend, serverArgs(dir));
      const url = urlOf(server);
      const carol = await server.user("carol");
      for (let i = 1; i <= 120; i++) await carol.request("send", { room: "lobby", text: `n${i}` });
      const user = await openUser(browser, url, { width: 390, height: 844, locale: "zh-CN" });
      const page = user.page;
      await page.locator("#tab-login", { hasText: "登录" }).waitFor();
      assert.equal(await page.locator("html").getAttribute("lang"), "zh-CN");
      await page.selectOption("#lang", "en");
      await page.locator("#tab-login", { hasText: "Log in" }).waitFor();
      await page.selectOption("#lang", "zh-CN");
      await page.click("#tab-register");
      await page.fill("#auth-name", "carol");
      await page.locator("#name-hint", { hasText: "这个名字已被占用" }).waitFor();
      await page.fill("#auth-name", "dave");
      await page.locator("#name-hint", { hasText: "这个名字可以使用" }).waitFor();
      await page.fill("#auth-nick", "大卫");
      await page.fill("#auth-password", "password1");
      await page.click("#auth-submit");
      await page.waitForSelector('#status[data-status="online"]');
      await page.locator("#status", { hasText: "已连接" }).waitFor();
      // Phone: the lobby fills the screen; back shows the lists.
      await seeMessage(page, "n120");
      assert.equal(await page.locator("#side").isVisible(), false);
      await page.click("#back");
      await page.locator("#side").waitFor({ state: "visible" });
      await page.locator("#chat").waitFor({ state: "hidden" });
      await page.click('#room-list [data-view="#lobby"]');
      // Scrolling up loads older pages until the first message.
      while (!(await texts(page)).includes("n1")) {
        await page.locator("#messages").evaluate((el) => el.scrollTop = 0);
        await page.locator('#messages [data-edge="loading"]').waitFor({ state: "detached" });
      }
      await page.locator('[data-edge="beginning"]', { hasText: "这是对话的开始" }).waitFor();
      assert.deepEqual(await texts(page), Array.from({ length: 120 }, (_, i) => `n${i + 1}`));
      assert.deepEqual(user.log.errors, []);
      await user.context.close();
    },
  ],
];

/** Only on Redis: nodes that share one store serve one chat. */
const redisCases: BrowserCase[] = [
  [
    "browser and terminal users on two nodes chat as on one",
    async ({ browser, backend, dir }) => {
      const redisPrefix = `n${Date.now()}:`;
      const node = (id: string) => [...serverArgs(dir), "--node-id", `${id}-${redisPrefix}`];
      await using one = await startTestServer(backend, node("one"), { redisPrefix });
      await using two = await startTestServer(backend, node("two"), { redisPrefix });
      const alice = await openUser(browser, urlOf(one));
      const bob = await openUser(browser, urlOf(two));
      await registerIn(alice.page, "alice");
      await registerIn(bob.page, "bob");
      const carol = await two.user("carol");
      await say(alice.page, "from node one");
      await seeMessage(bob.page, "from node one");
      await carol.next("message", (e) => e.msg.text === "from node one");
      await carol.request("send", { room: "lobby", text: "from the terminal on node two" });
      await seeMessage(alice.page, "from the terminal on node two");
      await carol.request("send", { to: "alice", text: "privately across nodes" });
      await badge(alice.page, "dm:carol").filter({ hasText: "1" }).waitFor();
      await alice.page.click('#dm-list [data-view="dm:carol"]');
      await say(alice.page, "and back");
      await carol.next("message", (e) => e.msg.text === "and back" && e.msg.to === "carol");
      await alice.context.close();
      await bob.context.close();
    },
  ],
];

/** Registers the browser cases on a backend as one test with a step per case. */
function browserSuite(
  title: string,
  backend: () => Promise<Backend & AsyncDisposable>,
  extra: BrowserCase[] = [],
) {
  Deno.test(`web client in Chromium (${title})`, async (t) => {
    const dir = await webDir();
    await using store = await backend();
    await using browser = await launchBrowser();
    for (const [name, run] of [...cases, ...extra]) {
      await t.step(name, () => run({ browser, backend: store, dir }));
    }
  });
}

browserSuite(
  "Deno KV",
  () => Promise.resolve({ kind: "kv" as const, [Symbol.asyncDispose]: () => Promise.resolve() }),
);

browserSuite("Redis", async () => {
  const redis = await startRedis();
  return {
    kind: "redis" as const,
    url: redis.url,
    [Symbol.asyncDispose]: () => redis[Symbol.asyncDispose](),
  };
}, redisCases);
