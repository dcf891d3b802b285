/**
 * Launching Debian's Chromium with Playwright (`playwright-core`, which downloads no
 * browser), with the flags this closed network needs. Playwright gives each launch a fresh
 * profile directory (`--user-data-dir`) and removes it at close.
 *
 * @module
 */

import { type Browser, chromium } from "playwright-core";

/** Where Debian installs Chromium (`.ci/run` installs it when missing). */
export const CHROMIUM = "/usr/bin/chromium";

/** Flags: headless as root, and no background connections (refused on this network). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A launched browser, closed on dispose. */
export async function launchChromium(): Promise<Browser & AsyncDisposable> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  }) as Browser & AsyncDisposable;
  browser[Symbol.asyncDispose] = () => browser.close();
  return browser;
}
