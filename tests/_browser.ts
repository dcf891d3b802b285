/**
 * Test helpers for the web client in a real browser (Debian's Chromium driven by
 * Playwright, see scripts/_chromium.ts): users in their own browser contexts, with their
 * page errors, dialogs and desktop notifications recorded.
 *
 * @module
 */

import type { Browser, BrowserContext, Page } from "playwright-core";
import { buildWeb } from "../scripts/build_web.ts";
import { launchChromium } from "../scripts/_chromium.ts";

/** Builds the web client when its sources changed; returns the directory to serve. */
export async function webDir(): Promise<string> {
  return (await buildWeb()).dir;
}

/** A launched browser, closed on dispose. */
export const launchBrowser = launchChromium;

/** Runs in the page before its scripts: every notification shown is reported to the test. */
const RECORD_NOTIFICATIONS = `
  const Real = globalThis.Notification;
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      globalThis.__notified(title, (options && options.body) || "");
    }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  globalThis.Notification = Recorded;
`;

/** What a page did that a test should see: errors, dialogs, refused policy violations. */
export interface PageLog {
  errors: string[];
  dialogs: string[];
  notifications: { title: string; body: string }[];
}

/**
 * A new browser user: an own context (own storage), a page on `url`, and a log of page
 * errors, dialogs (an `alert` from injected script would land here) and CSP violations.
 */
export async function openUser(
  browser: Browser,
  url: string,
  options: { width?: number; height?: number; locale?: string } = {},
): Promise<{ context: BrowserContext; page: Page; log: PageLog }> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    locale: options.locale ?? "en-US",
  });
  await context.grantPermissions(["notifications"], { origin: new URL(url).origin });
  const page = await context.newPage();
  const log: PageLog = { errors: [], dialogs: [], notifications: [] };
  page.on("pageerror", (error) => log.errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") log.errors.push(message.text());
  });
  page.on("dialog", (dialog) => {
    log.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await context.exposeBinding("__notified", (_source, title: string, body: string) => {
    log.notifications.push({ title, body });
  });
  await context.addInitScript({ content: RECORD_NOTIFICATIONS });
  await page.goto(url);
  return { context, page, log };
}

/** Registers through the page's form and waits for the chat screen. */
export async function registerIn(page: Page, name: string, password = "password1"): Promise<void> {
  await page.click("#tab-register");
  await page.fill("#auth-name", name);
  await page.fill("#auth-nick", name.toUpperCase());
  await page.fill("#auth-password", password);
  await page.click("#auth-submit");
  await page.waitForSelector("#shell");
  await page.waitForSelector('#status[data-status="online"]');
}
