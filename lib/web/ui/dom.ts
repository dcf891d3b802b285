/**
 * Building page elements without HTML: every string becomes a text node or the value of a
 * plain attribute, and event handlers, inline styles and `javascript:` addresses cannot be
 * set through it.
 *
 * @module
 */

/** What may be a child of an element. */
export type Child = Node | string | null | undefined | false;

/** Properties of {@linkcode h}. */
export interface Props {
  class?: string;
  /** Attributes; names starting with `on`, `style`, `srcdoc` and `href` are refused. */
  attrs?: Record<string, string>;
  /** Event listeners. */
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
}

const REFUSED = /^(on|style$|srcdoc$|href$|src$|formaction$)/i;

/**
 * Makes an element with text children.
 *
 * @example
 * ```ts
 * h("p", { class: "hint" }, "<b>stays text</b>"); // <p class="hint">&lt;b&gt;…</p>
 * ```
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class) element.className = props.class;
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (REFUSED.test(name)) throw new TypeError(`Cannot set attribute ${name} with h()`);
    element.setAttribute(name, value);
  }
  for (const [type, listener] of Object.entries(props.on ?? {})) {
    element.addEventListener(type, listener as EventListener);
  }
  append(element, children);
  return element;
}

/** Appends children; strings become text nodes. */
export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** A link to an address already checked by `safeHref`; it opens in a new tab. */
export function link(href: string, text: string): HTMLAnchorElement {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  return a;
}

/** The element with `id`, of the given type. */
export function byId<T extends HTMLElement>(root: ParentNode, id: string): T {
  const element = root.querySelector(`#${id}`);
  if (!element) throw new Error(`No element #${id}`);
  return element as T;
}
