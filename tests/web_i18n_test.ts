import assert from "node:assert/strict";
import { ERROR_CODES } from "../lib/protocol/errors.ts";
import {
  ERROR_TEXTS,
  errorText,
  LANGUAGES,
  pickLang,
  placeholders,
  t,
  TEXTS,
} from "../lib/web/i18n.ts";

Deno.test("i18n: no text is missing in either language, and placeholders match", () => {
  const keys = Object.keys(TEXTS.en).sort();
  for (const { lang } of LANGUAGES) {
    assert.deepEqual(Object.keys(TEXTS[lang]).sort(), keys, `${lang} has every key`);
    for (const key of keys) {
      const text = TEXTS[lang][key as keyof typeof TEXTS.en];
      assert.ok(text.trim().length > 0, `${lang} ${key} is not empty`);
      assert.deepEqual(
        placeholders(text),
        placeholders(TEXTS.en[key as keyof typeof TEXTS.en]),
        `${lang} ${key} has the same placeholders`,
      );
    }
  }
});

Deno.test("i18n: every error code has a message in both languages", () => {
  for (const { lang } of LANGUAGES) {
    assert.deepEqual(Object.keys(ERROR_TEXTS[lang]).sort(), [...ERROR_CODES].sort());
    for (const code of ERROR_CODES) assert.ok(errorText(lang, code).length > 0);
  }
  assert.equal(errorText("zh-CN", "WRONG_PASSWORD"), "用户名或密码错误。");
});

Deno.test("i18n: Chinese texts are Chinese, not English left in", () => {
  const han = /\p{Script=Han}/u;
  for (const [key, text] of Object.entries(TEXTS["zh-CN"])) {
    const words = text.replace(/\{\w+\}/g, "").replace(/imchat|a–z|0–9/g, "");
    assert.ok(han.test(words) || !/[A-Za-z]/.test(words), `zh-CN ${key}: ${text}`);
  }
});

Deno.test("i18n: the browser's language picks the client's; a saved choice wins", () => {
  assert.equal(pickLang(["zh-CN", "en"]), "zh-CN");
  assert.equal(pickLang(["zh"]), "zh-CN");
  assert.equal(pickLang(["zh-Hant-TW"]), "zh-CN");
  assert.equal(pickLang(["en-US", "zh-CN"]), "en");
  assert.equal(pickLang(["de", "fr"]), "en");
  assert.equal(pickLang(["de", "zh-CN"]), "zh-CN");
  assert.equal(pickLang([]), "en");
  assert.equal(pickLang(["zh-CN"], "en"), "en");
  assert.equal(pickLang(["en"], "zh-CN"), "zh-CN");
  assert.equal(pickLang(["en"], "klingon"), "en");
});

Deno.test("i18n: placeholders are filled", () => {
  assert.equal(t("en", "status.waiting", { s: 4 }), "Offline — reconnecting in 4 s");
  assert.equal(t("zh-CN", "side.unread", { n: 2 }), "2 条未读");
  assert.equal(t("en", "notice.join", {}), "{user} joined");
});
