/** Every client text exists in English and Simplified Chinese, with the same placeholders. */

import assert from "node:assert/strict";
import { COMMAND_NAMES } from "../lib/client/commands.ts";
import { CLIENT_OPTIONS } from "../lib/config/client_config.ts";
import { ERROR_CODES } from "../lib/protocol/errors.ts";
import { CATALOGUES, chooseLang, placeholders, texts } from "../lib/i18n/translate.ts";

Deno.test("no string is missing or empty in either language, and placeholders match", () => {
  const en = CATALOGUES.en;
  const zh = CATALOGUES.zh;
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  for (const key of Object.keys(en)) {
    assert.ok(en[key].trim() !== "", `en ${key} empty`);
    assert.ok(zh[key].trim() !== "", `zh ${key} empty`);
    assert.deepEqual(placeholders(zh[key]), placeholders(en[key]), `placeholders of ${key}`);
  }
});

Deno.test("every text the code asks for by a built key exists", () => {
  for (const lang of ["en", "zh"] as const) {
    const catalogue = CATALOGUES[lang];
    for (const code of ERROR_CODES) {
      assert.ok(Object.hasOwn(catalogue, `error.${code}`), `${lang} error.${code}`);
    }
    for (const name of COMMAND_NAMES) {
      assert.ok(Object.hasOwn(catalogue, `usage.${name}`), `${lang} usage.${name}`);
      assert.ok(Object.hasOwn(catalogue, `help.${name}`), `${lang} help.${name}`);
    }
    for (const action of ["join", "part", "kick", "ban", "unban", "owner"]) {
      assert.ok(Object.hasOwn(catalogue, `member.${action}`));
      assert.ok(Object.hasOwn(catalogue, `member.${action}.you`));
    }
  }
});

Deno.test("every key used in the client's code exists", async () => {
  const used = new Set<string>();
  for (const dir of ["lib/client", "lib/client/ui"]) {
    for await (const entry of Deno.readDir(new URL(`../${dir}`, import.meta.url))) {
      if (!entry.name.endsWith(".ts")) continue;
      const source = await Deno.readTextFile(new URL(`../${dir}/${entry.name}`, import.meta.url));
      for (const m of source.matchAll(/\bt\("([a-zA-Z]+\.[a-zA-Z_.]+|bye|ended)"/g)) used.add(m[1]);
    }
  }
  const entry = await Deno.readTextFile(new URL("../client.ts", import.meta.url));
  for (const m of entry.matchAll(/\bt\("([a-zA-Z]+\.[a-zA-Z_.]+)"/g)) used.add(m[1]);
  for (const option of CLIENT_OPTIONS) used.add(`flag.${option.flag}`);
  assert.ok(used.size > 50);
  for (const key of used) assert.ok(Object.hasOwn(CATALOGUES.en, key), `missing ${key}`);
});

Deno.test("language from --lang, then LC_ALL, LC_MESSAGES, LANG; plurals in English", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.equal(chooseLang(undefined, env({ LANG: "zh_CN.UTF-8" })), "zh");
  assert.equal(chooseLang(undefined, env({ LC_ALL: "en_US.UTF-8", LANG: "zh_CN.UTF-8" })), "en");
  assert.equal(chooseLang("zh", env({ LC_ALL: "C" })), "zh");
  assert.equal(chooseLang(undefined, env({})), "en");
  assert.equal(texts("en").t("backlog.count", { n: 1 }), "1 message arrived while you were away.");
  assert.equal(texts("en").t("backlog.count", { n: 3 }), "3 messages arrived while you were away.");
  assert.equal(texts("zh").t("backlog.count", { n: 3 }), "你不在时收到 3 条消息。");
});
