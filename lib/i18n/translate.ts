/**
 * The client's texts in English and Simplified Chinese, and the choice between them. Pure
 * code: the caller passes the flag and the environment.
 *
 * A text is a template with `{name}` placeholders. A key that has a `_one` variant uses it
 * when the `n` parameter is 1 (English plurals; Chinese needs none).
 *
 * @module
 */

import { EN, type MessageKey } from "./en.ts";
import { ZH } from "./zh.ts";

export type { MessageKey } from "./en.ts";

/** The languages of the client. */
export type Lang = "en" | "zh";

/** Every catalogue, by language. */
export const CATALOGUES: Readonly<Record<Lang, Readonly<Record<string, string>>>> = {
  en: EN,
  zh: ZH,
};

/** Parameters of a text. */
export type Params = Readonly<Record<string, string | number>>;

/** Renders texts of one language. */
export interface Texts {
  readonly lang: Lang;
  /** The text of `key` with its placeholders filled. */
  t(key: MessageKey, params?: Params): string;
}

/**
 * Picks the language: `--lang` when given, else the first of `LC_ALL`, `LC_MESSAGES`, `LANG`
 * that is set; Chinese when it starts with `zh`, English otherwise.
 *
 * @example
 * ```ts
 * chooseLang(undefined, (n) => n === "LANG" ? "zh_CN.UTF-8" : undefined); // "zh"
 * chooseLang("en", () => "zh_CN.UTF-8"); // "en"
 * ```
 */
export function chooseLang(
  flag: string | undefined,
  env: (name: string) => string | undefined,
): Lang {
  if (flag !== undefined) return flag.toLowerCase().startsWith("zh") ? "zh" : "en";
  for (const name of ["LC_ALL", "LC_MESSAGES", "LANG"]) {
    const value = env(name);
    if (value) return value.toLowerCase().startsWith("zh") ? "zh" : "en";
  }
  return "en";
}

/**
 * The texts of `lang`.
 *
 * @example
 * ```ts
 * texts("en").t("bye"); // "Bye."
 * ```
 */
export function texts(lang: Lang): Texts {
  const catalogue = CATALOGUES[lang];
  return {
    lang,
    t(key, params = {}) {
      const one = `${key}_one`;
      const template = params.n === 1 && Object.hasOwn(catalogue, one)
        ? catalogue[one]
        : catalogue[key];
      return fill(template ?? key, params);
    },
  };
}

/** Fills `{name}` placeholders; unknown ones stay as they are. */
export function fill(template: string, params: Params): string {
  return template.replace(
    /\{(\w+)\}/g,
    (whole, name: string) => Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

/** The placeholder names of a template, sorted (for the catalogue test). */
export function placeholders(template: string): string[] {
  return [...new Set([...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();
}
