/**
 * The page: the login and register form, and the chat screen (rooms, conversations, who is
 * online, the message list with infinite scroll back, the composer, members, browsing and
 * creating rooms). It renders what the {@linkcode ChatClient} knows and calls it on user
 * actions. All text goes in as text nodes.
 *
 * @module
 */

import { ChatError } from "../../protocol/errors.ts";
import type { ChatMessage, RoomInfo } from "../../protocol/messages.ts";
import type { ChatClient } from "../client.ts";
import { errorText, type Lang, LANGUAGES, t, type TextKey } from "../i18n.ts";
import { dmView, type Notice, parseView, roomView, type ViewKey, viewTarget } from "../model.ts";
import type { OutboxEntry } from "../outbox.ts";
import { formatTime, neutralize, segments } from "../text.ts";
import { append, byId, h, link } from "./dom.ts";

/** Desktop notifications, as far as the page uses them. */
export interface Notifier {
  readonly supported: boolean;
  permission(): NotificationPermission;
  request(): Promise<NotificationPermission>;
  show(title: string, body: string, tag: string): void;
}

/** What the page is given. */
export interface AppDeps {
  client: ChatClient;
  lang: Lang;
  saveLang(lang: Lang): void;
  notifier: Notifier;
  now(): number;
  /** Minutes behind UTC at a time (`Date#getTimezoneOffset`). */
  offset(ts: number): number;
  /** Whether the page has the user's attention (visible and focused). */
  attentive(): boolean;
}

type Pane = "list" | "chat" | "browse";

/** The running page. */
export class App {
  readonly #root: HTMLElement;
  readonly #deps: AppDeps;
  readonly #client: ChatClient;
  #lang: Lang;
  #screen: "auth" | "chat" | null = null;
  #renderQueued = false;
  #pane: Pane = "list";
  #membersOpen = false;
  #editingTopic = false;
  #authMode: "login" | "register" = "login";
  #authBusy = false;
  #authMessage = "";
  #nameHint: { text: string; ok: boolean } | null = null;
  #nickHint: { text: string; ok: boolean } | null = null;
  #toast = "";
  #toastTimer: ReturnType<typeof setTimeout> | undefined;
  #browseResults: RoomInfo[] | null = null;
  #renderedView: ViewKey | null = null;
  readonly #nodes = new Map<string, { node: HTMLElement; sig: string }>();

  constructor(root: HTMLElement, deps: AppDeps) {
    this.#root = root;
    this.#deps = deps;
    this.#client = deps.client;
    this.#lang = deps.lang;
    this.#pane = this.#client.model.active === null ? "list" : "chat";
    this.#client.onChange(() => this.schedule());
    this.#client.onMessage((outcome, text) => {
      const model = this.#client.model;
      if (!outcome.notify || !deps.notifier.supported) return;
      if (deps.notifier.permission() !== "granted") return;
      if (deps.attentive() && outcome.view === model.active) return;
      const parsed = parseView(outcome.view)!;
      const message = model.timeline(outcome.view)?.messages.at(-1);
      const user = message?.nick ?? parsed.name;
      const title = parsed.kind === "room"
        ? t(this.#lang, "notify.room", { user, room: parsed.name })
        : t(this.#lang, "notify.dm", { user });
      deps.notifier.show(neutralize(title), neutralize(text).slice(0, 200), outcome.view);
    });
  }

  /** Renders at the next animation frame. */
  schedule(): void {
    if (this.#renderQueued) return;
    this.#renderQueued = true;
    requestAnimationFrame(() => {
      this.#renderQueued = false;
      this.render();
    });
  }

  /** Renders now. */
  render(): void {
    const want = this.#client.hasSession ? "chat" : "auth";
    if (want !== this.#screen) {
      this.#screen = want;
      this.#nodes.clear();
      this.#renderedView = null;
      this.#root.replaceChildren(want === "auth" ? this.#authScreen() : this.#chatScreen());
      document.documentElement.lang = this.#lang;
    }
    if (want === "auth") this.#renderAuth();
    else this.#renderChat();
    const unread = this.#client.model.totalUnread();
    document.title = unread > 0 ? this.#t("title.unread", { n: unread }) : "imchat";
  }

  #t(key: TextKey, params?: Record<string, string | number>): string {
    return t(this.#lang, key, params);
  }

  #setLang(lang: Lang): void {
    this.#lang = lang;
    this.#deps.saveLang(lang);
    this.#screen = null;
    this.render();
  }

  #langSelect(id: string): HTMLSelectElement {
    const select = h("select", {
      attrs: { id, "aria-label": this.#t("lang.label") },
      on: { change: () => this.#setLang(select.value as Lang) },
    }, ...LANGUAGES.map(({ lang, name }) => h("option", { attrs: { value: lang } }, name)));
    select.value = this.#lang;
    return select;
  }

  #error(error: unknown): string {
    if (error instanceof ChatError) return errorText(this.#lang, error.code);
    return this.#t("auth.unreachable");
  }

  #showToast(text: string): void {
    this.#toast = text;
    clearTimeout(this.#toastTimer);
    this.#toastTimer = setTimeout(() => {
      this.#toast = "";
      this.schedule();
    }, 6000);
    this.schedule();
  }

  /** Runs a client call; a failure is shown as a toast. */
  async #attempt(run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.#showToast(this.#error(error));
    }
    this.schedule();
  }

  // ---- login and register

  #authScreen(): HTMLElement {
    const name = h("input", {
      attrs: { id: "auth-name", autocomplete: "username", autocapitalize: "none", required: "" },
      on: { input: () => this.#checkLater("name", name.value) },
    });
    const nick = h("input", {
      attrs: { id: "auth-nick", autocomplete: "nickname" },
      on: { input: () => this.#checkLater("nickname", nick.value) },
    });
    const password = h("input", {
      attrs: { id: "auth-password", type: "password", autocomplete: "current-password" },
    });
    const tab = (mode: "login" | "register", key: TextKey) =>
      h("button", {
        class: "tab",
        attrs: { type: "button", id: `tab-${mode}`, role: "tab" },
        on: {
          click: () => {
            this.#authMode = mode;
            this.#authMessage = "";
            this.#nameHint = null;
            this.#nickHint = null;
            if (mode === "register" && name.value) this.#checkLater("name", name.value);
            this.render();
          },
        },
      }, this.#t(key));
    const form = h(
      "form",
      {
        attrs: { id: "auth-form", novalidate: "" },
        on: {
          submit: (event) => {
            event.preventDefault();
            void this.#submitAuth(name.value, password.value, nick.value);
          },
        },
      },
      h("label", {}, h("span", {}, this.#t("auth.name")), name),
      h("p", { class: "hint", attrs: { id: "name-hint", "aria-live": "polite" } }),
      h(
        "label",
        { class: "register-only" },
        h("span", {}, this.#t("auth.nickname")),
        nick,
      ),
      h("p", { class: "hint register-only", attrs: { id: "nick-hint", "aria-live": "polite" } }),
      h("label", {}, h("span", {}, this.#t("auth.password")), password),
      h("button", { class: "primary", attrs: { id: "auth-submit", type: "submit" } }),
      h("p", { class: "error", attrs: { id: "auth-error", role: "alert" } }),
    );
    return h(
      "section",
      { class: "auth" },
      h(
        "div",
        { class: "auth-card" },
        h("h1", { class: "brand" }, "imchat"),
        h("p", { class: "tagline" }, this.#t("auth.tagline")),
        h(
          "div",
          { class: "tabs", attrs: { role: "tablist" } },
          tab("login", "auth.login"),
          tab("register", "auth.register"),
        ),
        form,
        h("div", { class: "auth-foot" }, this.#langSelect("lang")),
      ),
    );
  }

  #checkTimers: Record<string, ReturnType<typeof setTimeout> | undefined> = {};

  #checkLater(field: "name" | "nickname", value: string): void {
    clearTimeout(this.#checkTimers[field]);
    if (this.#authMode !== "register") return;
    if (value.trim() === "") {
      if (field === "name") this.#nameHint = null;
      else this.#nickHint = null;
      this.render();
      return;
    }
    this.#checkTimers[field] = setTimeout(async () => {
      try {
        const result = await this.#client.check({ [field]: value });
        const state = result[field];
        const hint = field === "name"
          ? {
            free: "auth.nameFree",
            taken: "auth.nameTaken",
            invalid: "auth.nameInvalid",
          } as const
          : {
            free: "auth.nickFree",
            taken: "auth.nickTaken",
            invalid: "auth.nickInvalid",
          } as const;
        if (!state) return;
        const shown = { text: this.#t(hint[state]), ok: state === "free" };
        if (field === "name") this.#nameHint = shown;
        else this.#nickHint = shown;
      } catch (error) {
        this.#authMessage = this.#error(error);
      }
      this.render();
    }, 250);
  }

  async #submitAuth(name: string, password: string, nickname: string): Promise<void> {
    if (this.#authBusy) return;
    this.#authBusy = true;
    this.#authMessage = "";
    this.render();
    try {
      if (this.#authMode === "register") {
        const checked = await this.#client.check({ name, nickname: nickname || name });
        if (checked.name === "taken") throw new ChatError("NAME_TAKEN", "taken");
        await this.#client.register(name, password, nickname.trim() || name.trim());
        this.#authMessage = this.#t("auth.registered");
        this.render();
      }
      await this.#client.login(name, password);
      const lobby = this.#client.hello?.lobby;
      if (this.#client.model.active === null && lobby) this.#client.open(roomView(lobby));
      this.#pane = this.#client.model.active ? "chat" : "list";
      this.#authMessage = "";
    } catch (error) {
      this.#authMessage = this.#error(error);
    } finally {
      this.#authBusy = false;
      this.render();
    }
  }

  #renderAuth(): void {
    const root = this.#root;
    const register = this.#authMode === "register";
    for (const element of root.querySelectorAll<HTMLElement>(".register-only")) {
      element.hidden = !register;
    }
    byId(root, "tab-login").classList.toggle("on", !register);
    byId(root, "tab-register").classList.toggle("on", register);
    byId(root, "tab-login").setAttribute("aria-selected", String(!register));
    byId(root, "tab-register").setAttribute("aria-selected", String(register));
    const submit = byId<HTMLButtonElement>(root, "auth-submit");
    submit.textContent = this.#t(register ? "auth.submitRegister" : "auth.submitLogin");
    submit.disabled = this.#authBusy;
    byId<HTMLInputElement>(root, "auth-password").autocomplete = register
      ? "new-password"
      : "current-password";
    const hint = (id: string, value: { text: string; ok: boolean } | null) => {
      const element = byId(root, id);
      element.textContent = register ? value?.text ?? "" : "";
      element.classList.toggle("ok", value?.ok === true);
      element.classList.toggle("bad", value?.ok === false);
    };
    hint("name-hint", this.#nameHint);
    hint("nick-hint", this.#nickHint);
    const problem = this.#client.problem;
    byId(root, "auth-error").textContent = this.#authMessage ||
      (problem?.code === "INVALID_TOKEN" ? this.#t("auth.sessionEnded") : "");
  }

  // ---- the chat screen

  #chatScreen(): HTMLElement {
    const client = this.#client;
    const composer = h("textarea", {
      attrs: { id: "composer-input", rows: "1", maxlength: "4000" },
      on: {
        keydown: (event) => {
          if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            this.#sendComposer();
          }
        },
      },
    });
    const dmName = h("input", {
      attrs: {
        id: "dm-name",
        placeholder: this.#t("side.dmPlaceholder"),
        autocapitalize: "none",
        "aria-label": this.#t("side.dmPlaceholder"),
      },
    });
    const topicInput = h("input", {
      attrs: { id: "topic-input", maxlength: "300", "aria-label": this.#t("chat.topic") },
    });
    const search = h("input", {
      attrs: {
        id: "browse-query",
        type: "search",
        placeholder: this.#t("browse.search"),
        "aria-label": this.#t("browse.search"),
      },
      on: { input: () => this.#searchLater(search.value) },
    });
    const newRoom = h("input", {
      attrs: { id: "new-room", autocapitalize: "none", "aria-label": this.#t("browse.roomName") },
    });
    const newTitle = h("input", {
      attrs: { id: "new-title", "aria-label": this.#t("browse.roomTitle") },
    });
    const newPublic = h("input", { attrs: { id: "new-public", type: "checkbox", checked: "" } });
    const messages = h("div", {
      class: "messages",
      attrs: { id: "messages", role: "log", "aria-live": "polite", tabindex: "0" },
      on: { scroll: () => this.#maybeLoadOlder() },
    });
    return h(
      "div",
      { class: "shell", attrs: { id: "shell" } },
      h(
        "header",
        { class: "top" },
        h("span", { class: "brand" }, "imchat"),
        h("span", { class: "status", attrs: { id: "status", role: "status" } }),
        h("button", {
          class: "link-button",
          attrs: { id: "retry", type: "button" },
          on: { click: () => client.retryNow() },
        }, this.#t("status.retry")),
        h("span", { class: "spacer" }),
        h("span", { class: "me", attrs: { id: "me" } }),
        h("button", {
          attrs: { id: "notify-button", type: "button" },
          on: {
            click: () =>
              void this.#deps.notifier.request().then(() => this.schedule(), () => this.schedule()),
          },
        }, this.#t("top.notify")),
        this.#langSelect("lang"),
        h("button", {
          attrs: { id: "logout", type: "button" },
          on: { click: () => void this.#attempt(() => client.logout()) },
        }, this.#t("top.logout")),
      ),
      h(
        "nav",
        { class: "side", attrs: { id: "side" } },
        h("button", {
          class: "primary wide",
          attrs: { id: "browse-button", type: "button" },
          on: { click: () => this.#openBrowse() },
        }, this.#t("side.browse")),
        h("h2", {}, this.#t("side.rooms")),
        h("ul", { class: "list", attrs: { id: "room-list" } }),
        h("h2", { attrs: { id: "invites-title" } }, this.#t("side.invites")),
        h("ul", { class: "list", attrs: { id: "invite-list" } }),
        h("h2", {}, this.#t("side.private")),
        h("form", {
          attrs: { id: "dm-form" },
          on: {
            submit: (event) => {
              event.preventDefault();
              const name = dmName.value;
              void this.#attempt(async () => {
                if (await client.openConversation(name)) {
                  dmName.value = "";
                  this.#pane = "chat";
                } else {
                  this.#showToast(this.#t("side.dmUnknown", { name: neutralize(name) }));
                }
              });
            },
          },
        }, dmName),
        h("ul", { class: "list", attrs: { id: "dm-list" } }),
        h("h2", {}, this.#t("side.online")),
        h("ul", { class: "list", attrs: { id: "online-list" } }),
      ),
      h(
        "main",
        { class: "chat", attrs: { id: "chat" } },
        h(
          "div",
          { class: "chat-head" },
          h("button", {
            class: "back",
            attrs: { id: "back", type: "button", "aria-label": this.#t("chat.back") },
            on: {
              click: () => {
                this.#pane = "list";
                client.closeView();
              },
            },
          }, "‹"),
          h(
            "div",
            { class: "chat-title" },
            h("h2", { attrs: { id: "chat-title" } }),
            h("p", { class: "topic", attrs: { id: "chat-topic" } }),
            h(
              "form",
              {
                class: "topic-form",
                attrs: { id: "topic-form" },
                on: {
                  submit: (event) => {
                    event.preventDefault();
                    const room = parseView(client.model.active ?? "")?.name;
                    if (!room) return;
                    this.#editingTopic = false;
                    void this.#attempt(() => client.setTopic(room, topicInput.value));
                  },
                },
              },
              topicInput,
              h("button", { attrs: { type: "submit" } }, this.#t("chat.save")),
              h("button", {
                attrs: { type: "button" },
                on: {
                  click: () => {
                    this.#editingTopic = false;
                    this.schedule();
                  },
                },
              }, this.#t("chat.cancel")),
            ),
          ),
          h(
            "div",
            { class: "chat-actions" },
            h("button", {
              attrs: { id: "topic-button", type: "button" },
              on: {
                click: () => {
                  const room = client.model.rooms.get(
                    parseView(client.model.active ?? "")?.name ?? "",
                  );
                  topicInput.value = room?.topic ?? "";
                  this.#editingTopic = true;
                  this.render();
                  topicInput.focus();
                },
              },
            }, this.#t("chat.setTopic")),
            h("button", {
              attrs: { id: "members-button", type: "button" },
              on: {
                click: () => {
                  this.#membersOpen = !this.#membersOpen;
                  this.schedule();
                },
              },
            }),
            h("button", {
              attrs: { id: "leave-button", type: "button" },
              on: {
                click: () => {
                  const room = parseView(client.model.active ?? "")?.name;
                  if (room) {
                    void this.#attempt(() => client.leave(room)).then(() => this.#pane = "list");
                  }
                },
              },
            }, this.#t("chat.leave")),
          ),
        ),
        messages,
        h("p", { class: "empty", attrs: { id: "chat-empty" } }, this.#t("chat.empty")),
        h(
          "form",
          {
            class: "composer",
            attrs: { id: "composer" },
            on: {
              submit: (event) => {
                event.preventDefault();
                this.#sendComposer();
              },
            },
          },
          composer,
          h(
            "button",
            { class: "primary", attrs: { id: "send", type: "submit" } },
            this.#t("chat.send"),
          ),
        ),
      ),
      h(
        "aside",
        { class: "members", attrs: { id: "members" } },
        h("h2", { attrs: { id: "members-title" } }),
        h("ul", { class: "list", attrs: { id: "member-list" } }),
      ),
      h(
        "section",
        { class: "browse", attrs: { id: "browse" } },
        h(
          "div",
          { class: "browse-head" },
          h("h2", {}, this.#t("browse.title")),
          h("button", {
            attrs: { id: "browse-close", type: "button" },
            on: {
              click: () => {
                this.#pane = client.model.active ? "chat" : "list";
                this.schedule();
              },
            },
          }, this.#t("browse.close")),
        ),
        search,
        h("ul", { class: "list rooms-found", attrs: { id: "browse-results" } }),
        h("h3", {}, this.#t("browse.create")),
        h(
          "form",
          {
            class: "create-form",
            attrs: { id: "create-form" },
            on: {
              submit: (event) => {
                event.preventDefault();
                void this.#attempt(async () => {
                  await client.create(newRoom.value, newTitle.value, newPublic.checked);
                  newRoom.value = "";
                  newTitle.value = "";
                  this.#pane = "chat";
                });
              },
            },
          },
          h("label", {}, h("span", {}, this.#t("browse.roomName")), newRoom),
          h("label", {}, h("span", {}, this.#t("browse.roomTitle")), newTitle),
          h("label", { class: "check" }, newPublic, h("span", {}, this.#t("browse.public"))),
          h(
            "button",
            { class: "primary", attrs: { id: "create-button", type: "submit" } },
            this.#t("browse.createButton"),
          ),
        ),
      ),
      h("div", { class: "toast", attrs: { id: "toast", role: "alert" } }),
    );
  }

  #sendComposer(): void {
    const input = byId<HTMLTextAreaElement>(this.#root, "composer-input");
    if (this.#client.send(input.value)) input.value = "";
  }

  #open(view: ViewKey): void {
    this.#pane = "chat";
    this.#editingTopic = false;
    this.#client.open(view);
  }

  #openBrowse(): void {
    this.#pane = "browse";
    this.render();
    byId<HTMLInputElement>(this.#root, "browse-query").focus();
    this.#searchLater(byId<HTMLInputElement>(this.#root, "browse-query").value);
  }

  #searchTimer: ReturnType<typeof setTimeout> | undefined;

  #searchLater(query: string): void {
    clearTimeout(this.#searchTimer);
    this.#searchTimer = setTimeout(() => {
      void this.#attempt(async () => {
        this.#browseResults = await this.#client.searchRooms(query);
      });
    }, 200);
  }

  #maybeLoadOlder(): void {
    const list = byId(this.#root, "messages");
    const view = this.#client.model.active;
    if (view === null || this.#client.loading(view)) return;
    const timeline = this.#client.model.timeline(view);
    if (!timeline || timeline.complete) return;
    if (list.scrollTop < 120) void this.#client.loadOlder(view);
  }

  #renderChat(): void {
    const root = this.#root;
    const client = this.#client;
    const model = client.model;
    const active = model.active;
    const parsed = active ? parseView(active) : null;
    if (this.#pane === "chat" && active === null) this.#pane = "list";
    const shell = byId(root, "shell");
    shell.dataset.pane = this.#pane;
    shell.dataset.view = parsed?.kind ?? "none";
    shell.classList.toggle("members-open", this.#membersOpen && parsed?.kind === "room");

    const status = byId(root, "status");
    const seconds = Math.max(0, Math.ceil((client.retryAt - this.#deps.now()) / 1000));
    status.textContent = client.status === "waiting"
      ? this.#t("status.waiting", { s: seconds })
      : client.status === "online"
      ? this.#t("status.online")
      : client.status === "syncing"
      ? this.#t("status.syncing")
      : this.#t("status.connecting");
    status.dataset.status = client.status;
    byId(root, "retry").hidden = client.status !== "waiting";
    byId(root, "me").textContent = model.me ? neutralize(model.me.nickname) : "";
    const notifier = this.#deps.notifier;
    byId(root, "notify-button").hidden = !notifier.supported || notifier.permission() !== "default";

    this.#renderSide();
    this.#renderHead(parsed);
    this.#renderMessages();
    this.#renderMembers(parsed);
    this.#renderBrowse();
    byId(root, "chat-empty").hidden = active !== null;
    byId(root, "messages").hidden = active === null;
    byId(root, "composer").hidden = active === null;
    const input = byId<HTMLTextAreaElement>(root, "composer-input");
    input.placeholder = parsed?.kind === "room"
      ? this.#t("chat.placeholderRoom", { room: parsed.name })
      : parsed?.kind === "dm"
      ? this.#t("chat.placeholderDm", {
        user: neutralize(model.conversations.get(parsed.name)?.nickname ?? parsed.name),
      })
      : "";
    input.setAttribute("aria-label", input.placeholder);
    const toast = byId(root, "toast");
    const problem = client.problem?.code === "SHUTTING_DOWN" && client.status !== "online"
      ? errorText(this.#lang, "SHUTTING_DOWN")
      : "";
    toast.textContent = this.#toast || problem;
    toast.hidden = toast.textContent === "";
  }

  #renderSide(): void {
    const root = this.#root;
    const model = this.#client.model;
    const item = (
      view: ViewKey,
      label: string,
      extra: { online?: boolean; sub?: string; count?: boolean } = {},
    ) => {
      const unread = extra.count === false ? 0 : model.unread(view);
      const parsed = parseView(view)!;
      const mentioned = parsed.kind === "room" && model.rooms.get(parsed.name)?.mentioned;
      const button = h(
        "button",
        {
          class: `item${view === model.active ? " active" : ""}${unread > 0 ? " unread" : ""}${
            mentioned ? " mentioned" : ""
          }`,
          attrs: { type: "button", "data-view": view },
          on: { click: () => this.#open(view) },
        },
        extra.online === undefined ? null : h("span", {
          class: `dot${extra.online ? " on" : ""}`,
          attrs: { "aria-label": this.#t(extra.online ? "member.online" : "member.offline") },
        }),
        h("span", { class: "name" }, label),
        extra.sub ? h("span", { class: "sub" }, extra.sub) : null,
        unread > 0
          ? h("span", {
            class: "badge",
            attrs: {
              "aria-label": mentioned
                ? this.#t("side.mentioned")
                : this.#t("side.unread", { n: unread }),
            },
          }, unread > 99 ? "99+" : String(unread))
          : null,
      );
      return h("li", {}, button);
    };
    const lobby = this.#client.hello?.lobby ?? null;
    byId(root, "room-list").replaceChildren(
      ...model.roomList(lobby).map((room) => item(roomView(room.name), `#${room.name}`)),
    );
    byId(root, "dm-list").replaceChildren(
      ...model.conversationList().map((c) =>
        item(dmView(c.peer), neutralize(c.nickname), { online: model.online.has(c.peer) })
      ),
    );
    const online = [...model.online.values()].filter((u) => u.name !== model.me?.name)
      .sort((a, b) => a.name.localeCompare(b.name));
    byId(root, "online-list").replaceChildren(
      ...(online.length === 0 ? [h("li", { class: "muted" }, this.#t("side.nobodyOnline"))] : online
        .map((user) =>
          item(dmView(user.name), neutralize(user.nickname), {
            online: true,
            count: false,
            sub: user.away ? this.#t("member.away", { reason: neutralize(user.away) }) : undefined,
          })
        )),
    );
    byId(root, "invites-title").hidden = model.invites.length === 0;
    byId(root, "invite-list").replaceChildren(...model.invites.map((invite) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            class: "item",
            attrs: { type: "button" },
            on: { click: () => void this.#attempt(() => this.#client.join(invite.room)) },
          },
          this.#t("side.inviteFrom", {
            room: `#${invite.room}`,
            user: neutralize(invite.by.nickname),
          }),
        ),
      )
    ));
  }

  #renderHead(parsed: { kind: "room" | "dm"; name: string } | null): void {
    const root = this.#root;
    const model = this.#client.model;
    const room = parsed?.kind === "room" ? model.rooms.get(parsed.name) : undefined;
    const title = byId(root, "chat-title");
    const topic = byId(root, "chat-topic");
    if (parsed?.kind === "room") {
      title.textContent = room && room.title !== room.name
        ? `#${parsed.name} · ${neutralize(room.title)}`
        : `#${parsed.name}`;
      topic.textContent = room?.topic ? neutralize(room.topic) : this.#t("chat.noTopic");
      topic.classList.toggle("muted", !room?.topic);
    } else if (parsed?.kind === "dm") {
      const conversation = model.conversations.get(parsed.name);
      title.textContent = neutralize(conversation?.nickname ?? parsed.name);
      topic.textContent = `${this.#t("chat.private")} · ${
        this.#t(model.online.has(parsed.name) ? "member.online" : "member.offline")
      }`;
      topic.classList.remove("muted");
    } else {
      title.textContent = "";
      topic.textContent = "";
    }
    const isRoom = parsed?.kind === "room";
    byId(root, "topic-form").hidden = !(isRoom && this.#editingTopic);
    topic.hidden = isRoom && this.#editingTopic;
    byId(root, "topic-button").hidden = !isRoom || this.#editingTopic;
    byId(root, "leave-button").hidden = !isRoom;
    const members = byId(root, "members-button");
    members.hidden = !isRoom;
    members.textContent = this.#t("chat.membersCount", { n: room?.members ?? 0 });
    members.setAttribute("aria-pressed", String(this.#membersOpen));
  }

  #renderMembers(parsed: { kind: "room" | "dm"; name: string } | null): void {
    const root = this.#root;
    const model = this.#client.model;
    const room = parsed?.kind === "room" ? model.rooms.get(parsed.name) : undefined;
    byId(root, "members").hidden = !room;
    if (!room) return;
    byId(root, "members-title").textContent = `${this.#t("chat.members")} · ${
      this.#t("chat.onlineCount", { online: room.online, members: room.members })
    }`;
    const list = room.memberList?.list ?? [];
    byId(root, "member-list").replaceChildren(...list.map((member) => {
      const me = member.name === model.me?.name;
      const notes = [
        member.role === "owner" ? this.#t("member.owner") : "",
        me ? this.#t("member.you") : "",
        member.away ? this.#t("member.away", { reason: neutralize(member.away) }) : "",
      ].filter((note) => note !== "").join(" · ");
      return h(
        "li",
        {},
        h(
          "button",
          {
            class: `item member${member.online ? " online" : ""}`,
            attrs: { type: "button", "data-user": member.name },
            on: { click: () => !me && this.#open(dmView(member.name)) },
          },
          h("span", {
            class: `dot${member.online ? " on" : ""}`,
            attrs: { "aria-label": this.#t(member.online ? "member.online" : "member.offline") },
          }),
          h("span", { class: "name" }, neutralize(member.nickname)),
          notes ? h("span", { class: "sub" }, notes) : null,
        ),
      );
    }));
  }

  #renderBrowse(): void {
    const root = this.#root;
    const results = this.#browseResults;
    const model = this.#client.model;
    const list = byId(root, "browse-results");
    if (results === null) {
      list.replaceChildren();
      return;
    }
    if (results.length === 0) {
      list.replaceChildren(h("li", { class: "muted" }, this.#t("browse.none")));
      return;
    }
    list.replaceChildren(...results.map((room) => {
      const member = model.rooms.has(room.name);
      return h(
        "li",
        { class: "found" },
        h(
          "div",
          {},
          h("span", { class: "name" }, `#${room.name}`),
          room.title !== room.name ? h("span", { class: "sub" }, neutralize(room.title)) : null,
          h(
            "span",
            { class: "sub" },
            [this.#t("browse.members", { n: room.members }), neutralize(room.topic)]
              .filter((part) => part !== "").join(" · "),
          ),
        ),
        h("button", {
          attrs: { type: "button", "data-join": room.name },
          on: {
            click: () =>
              void this.#attempt(async () => {
                if (member) this.#open(roomView(room.name));
                else await this.#client.join(room.name);
                this.#pane = "chat";
              }),
          },
        }, this.#t(member ? "browse.open" : "browse.join")),
      );
    }));
  }

  // ---- messages

  #renderMessages(): void {
    const list = byId(this.#root, "messages");
    const client = this.#client;
    const model = client.model;
    const view = model.active;
    const changedView = view !== this.#renderedView;
    if (changedView) {
      this.#nodes.clear();
      list.replaceChildren();
      this.#renderedView = view;
    }
    if (view === null) return;
    const timeline = model.timeline(view);
    const target = viewTarget(view);
    if (!timeline || !target) return;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
    const oldHeight = list.scrollHeight;
    const oldTop = list.scrollTop;
    const oldFirst = list.querySelector(".msg[data-seq]")?.getAttribute("data-seq");

    const items: { key: string; sig: string; make: () => HTMLElement }[] = [];
    const edge = client.loading(view) ? "loading" : timeline.complete ? "beginning" : "more";
    items.push({ key: "edge", sig: edge, make: () => this.#edge(edge) });
    const notices = model.notices(view);
    let n = 0;
    const pushNotices = (upTo: number) => {
      while (n < notices.length && notices[n].afterSeq < upTo) {
        const notice = notices[n++];
        items.push({ key: `n:${notice.id}`, sig: "", make: () => this.#notice(notice) });
      }
    };
    for (const msg of timeline.messages) {
      pushNotices(msg.seq);
      items.push({ key: `m:${msg.seq}`, sig: "", make: () => this.#message(msg) });
    }
    pushNotices(Infinity);
    for (const entry of client.outbox.forTarget(target)) {
      items.push({
        key: `p:${entry.key}`,
        sig: `${entry.status}:${entry.error ?? ""}`,
        make: () => this.#pending(entry),
      });
    }

    const wanted = new Set(items.map((item) => item.key));
    for (const [key, { node }] of this.#nodes) {
      if (!wanted.has(key)) {
        node.remove();
        this.#nodes.delete(key);
      }
    }
    let cursor: ChildNode | null = list.firstChild;
    for (const item of items) {
      let cached = this.#nodes.get(item.key);
      if (cached && cached.sig !== item.sig) {
        const fresh = item.make();
        cached.node.replaceWith(fresh);
        if (cursor === cached.node) cursor = fresh;
        cached = { node: fresh, sig: item.sig };
        this.#nodes.set(item.key, cached);
      }
      if (!cached) {
        cached = { node: item.make(), sig: item.sig };
        this.#nodes.set(item.key, cached);
      }
      if (cached.node === cursor) {
        cursor = cursor.nextSibling;
      } else {
        list.insertBefore(cached.node, cursor);
      }
    }

    const newFirst = list.querySelector(".msg[data-seq]")?.getAttribute("data-seq");
    if (changedView || atBottom) {
      list.scrollTop = list.scrollHeight;
    } else if (oldFirst !== undefined && newFirst !== oldFirst) {
      list.scrollTop = oldTop + (list.scrollHeight - oldHeight);
    }
    if (!timeline.complete && !client.loading(view) && list.scrollTop < 120) {
      void client.loadOlder(view);
    }
  }

  #edge(state: "loading" | "beginning" | "more"): HTMLElement {
    const text = state === "loading"
      ? this.#t("chat.loadingOlder")
      : state === "beginning"
      ? this.#t("chat.beginning")
      : "";
    return h("div", { class: `edge ${state}`, attrs: { "data-edge": state } }, text);
  }

  #notice(notice: Notice): HTMLElement {
    const params = {
      user: neutralize(notice.user ?? ""),
      by: neutralize(notice.by ?? ""),
      text: neutralize(notice.text ?? ""),
      count: notice.count ?? 0,
    };
    return h("div", { class: "notice" }, this.#t(`notice.${notice.kind}`, params));
  }

  #message(msg: ChatMessage): HTMLElement {
    const me = this.#client.model.me;
    const mine = me !== null && msg.from === me.name;
    const parts = segments(msg.text, me);
    const mention = !mine && parts.some((part) => part.kind === "mention" && part.me);
    const text = h("span", { class: "text" });
    for (const part of parts) {
      if (part.kind === "text") append(text, [part.text]);
      else if (part.kind === "link") text.appendChild(link(part.href, part.text));
      else text.appendChild(h("span", { class: part.me ? "mention me" : "mention" }, part.text));
    }
    return h(
      "div",
      {
        class: `msg${mine ? " mine" : ""}${mention ? " mentions-me" : ""}${
          msg.action ? " action" : ""
        }`,
        attrs: { "data-seq": String(msg.seq), "data-from": msg.from },
      },
      h(
        "time",
        { class: "time", attrs: { datetime: new Date(msg.ts).toISOString() } },
        formatTime(msg.ts, this.#deps.now(), this.#deps.offset),
      ),
      h("span", { class: "nick" }, msg.action ? `* ${neutralize(msg.nick)}` : neutralize(msg.nick)),
      text,
    );
  }

  #pending(entry: OutboxEntry): HTMLElement {
    const me = this.#client.model.me;
    const failed = entry.status === "failed";
    return h(
      "div",
      { class: `msg mine pending${failed ? " failed" : ""}`, attrs: { "data-key": entry.key } },
      h("span", { class: "time" }, ""),
      h("span", { class: "nick" }, neutralize(me?.nickname ?? "")),
      h("span", { class: "text" }, neutralize(entry.text)),
      h(
        "span",
        { class: "state" },
        failed
          ? this.#t("chat.notSent", { reason: errorText(this.#lang, entry.error ?? "INTERNAL") })
          : this.#t("chat.sending"),
      ),
      failed
        ? h("button", {
          class: "link-button",
          attrs: { type: "button" },
          on: { click: () => this.#client.discard(entry.key) },
        }, this.#t("chat.discard"))
        : null,
    );
  }
}
