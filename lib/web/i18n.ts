/**
 * The web client's texts in English and Simplified Chinese, the choice of language from
 * the browser's preferences, and plain-language messages for every error code. Texts are
 * plain strings with `{name}` placeholders; they are put into the page as text, never HTML.
 *
 * @module
 */

import type { ErrorCode } from "../protocol/errors.ts";

/** A language of the client. */
export type Lang = "en" | "zh-CN";

/** The languages offered, with their own names. */
export const LANGUAGES: readonly { lang: Lang; name: string }[] = [
  { lang: "en", name: "English" },
  { lang: "zh-CN", name: "简体中文" },
];

const en = {
  "auth.login": "Log in",
  "auth.register": "Register",
  "auth.name": "Login name",
  "auth.nickname": "Nickname",
  "auth.password": "Password",
  "auth.submitLogin": "Log in",
  "auth.submitRegister": "Create account",
  "auth.nameFree": "This name is free",
  "auth.nameTaken": "This name is taken",
  "auth.nameInvalid": "3–32 characters: a–z, 0–9, _ . - (starting with a letter or digit)",
  "auth.nickFree": "This nickname is free",
  "auth.nickTaken": "This nickname is taken",
  "auth.nickInvalid": "1–32 characters, no control characters",
  "auth.registered": "Account created. Logging in…",
  "auth.sessionEnded": "Your session has ended. Please log in again.",
  "auth.unreachable": "Cannot reach the server. Try again in a moment.",
  "auth.tagline": "Chat with everyone, in rooms or privately.",
  "lang.label": "Language",
  "status.connecting": "Connecting…",
  "status.syncing": "Catching up…",
  "status.online": "Connected",
  "status.waiting": "Offline — reconnecting in {s} s",
  "status.retry": "Reconnect now",
  "top.logout": "Log out",
  "top.notify": "Enable notifications",
  "side.rooms": "Rooms",
  "side.private": "Private messages",
  "side.online": "Online",
  "side.browse": "Browse rooms",
  "side.dmPlaceholder": "Message a user (login name)",
  "side.dmUnknown": "No user named {name}",
  "side.invites": "Invitations",
  "side.inviteFrom": "{room} — from {user}",
  "side.nobodyOnline": "Nobody else is online",
  "side.unread": "{n} unread",
  "side.mentioned": "You were mentioned",
  "browse.title": "Browse rooms",
  "browse.search": "Search rooms",
  "browse.none": "No rooms found",
  "browse.join": "Join",
  "browse.open": "Open",
  "browse.create": "Create a room",
  "browse.roomName": "Room name",
  "browse.roomTitle": "Title (optional)",
  "browse.public": "Anyone can join",
  "browse.createButton": "Create",
  "browse.close": "Close",
  "browse.members": "Members: {n}",
  "chat.empty": "Pick a room or a conversation",
  "chat.members": "Members",
  "chat.membersCount": "Members ({n})",
  "chat.topic": "Topic",
  "chat.noTopic": "No topic",
  "chat.setTopic": "Set the topic",
  "chat.save": "Save",
  "chat.cancel": "Cancel",
  "chat.leave": "Leave",
  "chat.back": "Back",
  "chat.placeholderRoom": "Message #{room}",
  "chat.placeholderDm": "Message {user}",
  "chat.send": "Send",
  "chat.loadingOlder": "Loading older messages…",
  "chat.beginning": "This is the beginning of the conversation",
  "chat.sending": "Sending…",
  "chat.notSent": "Not sent: {reason}",
  "chat.discard": "Discard",
  "chat.private": "Private conversation",
  "chat.onlineCount": "{online} of {members} online",
  "member.owner": "owner",
  "member.online": "online",
  "member.offline": "offline",
  "member.away": "away: {reason}",
  "member.you": "you",
  "notice.join": "{user} joined",
  "notice.part": "{user} left",
  "notice.kick": "{user} was removed by {by}",
  "notice.ban": "{user} was banned by {by}",
  "notice.unban": "{user} may come back ({by})",
  "notice.owner": "{user} is now the owner",
  "notice.topic": "{by} set the topic: {text}",
  "notice.gap": "{count} messages are no longer available",
  "notice.skipped": "{count} older messages were not loaded at login; scroll up to read them",
  "notify.room": "{user} in #{room}",
  "notify.dm": "{user} (private)",
  "title.unread": "({n}) imchat",
};

/** The key of a text. */
export type TextKey = keyof typeof en;

const zh: Record<TextKey, string> = {
  "auth.login": "登录",
  "auth.register": "注册",
  "auth.name": "登录名",
  "auth.nickname": "昵称",
  "auth.password": "密码",
  "auth.submitLogin": "登录",
  "auth.submitRegister": "创建账号",
  "auth.nameFree": "这个名字可以使用",
  "auth.nameTaken": "这个名字已被占用",
  "auth.nameInvalid": "3–32 个字符：a–z、0–9、_ . -（以字母或数字开头）",
  "auth.nickFree": "这个昵称可以使用",
  "auth.nickTaken": "这个昵称已被占用",
  "auth.nickInvalid": "1–32 个字符，不能有控制字符",
  "auth.registered": "账号已创建，正在登录…",
  "auth.sessionEnded": "会话已结束，请重新登录。",
  "auth.unreachable": "无法连接服务器，请稍后再试。",
  "auth.tagline": "和大家聊天：在聊天室里，或私下交谈。",
  "lang.label": "语言",
  "status.connecting": "正在连接…",
  "status.syncing": "正在同步…",
  "status.online": "已连接",
  "status.waiting": "已断开，{s} 秒后重新连接",
  "status.retry": "立即重连",
  "top.logout": "退出登录",
  "top.notify": "开启桌面通知",
  "side.rooms": "聊天室",
  "side.private": "私信",
  "side.online": "在线",
  "side.browse": "浏览聊天室",
  "side.dmPlaceholder": "给用户发私信（登录名）",
  "side.dmUnknown": "没有名为 {name} 的用户",
  "side.invites": "邀请",
  "side.inviteFrom": "{room}，来自 {user}",
  "side.nobodyOnline": "没有其他人在线",
  "side.unread": "{n} 条未读",
  "side.mentioned": "有人提到了你",
  "browse.title": "浏览聊天室",
  "browse.search": "搜索聊天室",
  "browse.none": "没有找到聊天室",
  "browse.join": "加入",
  "browse.open": "打开",
  "browse.create": "创建聊天室",
  "browse.roomName": "聊天室名称",
  "browse.roomTitle": "标题（可选）",
  "browse.public": "任何人都可以加入",
  "browse.createButton": "创建",
  "browse.close": "关闭",
  "browse.members": "成员：{n}",
  "chat.empty": "选择一个聊天室或一段对话",
  "chat.members": "成员",
  "chat.membersCount": "成员（{n}）",
  "chat.topic": "话题",
  "chat.noTopic": "没有话题",
  "chat.setTopic": "设置话题",
  "chat.save": "保存",
  "chat.cancel": "取消",
  "chat.leave": "离开",
  "chat.back": "返回",
  "chat.placeholderRoom": "发消息到 #{room}",
  "chat.placeholderDm": "发消息给 {user}",
  "chat.send": "发送",
  "chat.loadingOlder": "正在加载更早的消息…",
  "chat.beginning": "这是对话的开始",
  "chat.sending": "正在发送…",
  "chat.notSent": "未发送：{reason}",
  "chat.discard": "放弃",
  "chat.private": "私下对话",
  "chat.onlineCount": "{members} 人中 {online} 人在线",
  "member.owner": "创建者",
  "member.online": "在线",
  "member.offline": "离线",
  "member.away": "离开：{reason}",
  "member.you": "你",
  "notice.join": "{user} 加入了",
  "notice.part": "{user} 离开了",
  "notice.kick": "{user} 被 {by} 移出",
  "notice.ban": "{user} 被 {by} 封禁",
  "notice.unban": "{user} 的封禁已被 {by} 解除",
  "notice.owner": "{user} 现在是创建者",
  "notice.topic": "{by} 设置了话题：{text}",
  "notice.gap": "{count} 条消息已不可用",
  "notice.skipped": "登录时有 {count} 条较早的消息未加载，向上滚动即可阅读",
  "notify.room": "{user} 在 #{room}",
  "notify.dm": "{user}（私信）",
  "title.unread": "（{n}）imchat",
};

const errorsEn: Record<ErrorCode, string> = {
  BAD_FRAME: "The server could not read a message from this page.",
  FRAME_TOO_LARGE: "That is too long to send.",
  BAD_REQUEST: "The server did not understand the request.",
  UNKNOWN_TYPE: "The server did not understand the request.",
  UNSUPPORTED_VERSION: "This page is too old for the server. Reload it.",
  HELLO_REQUIRED: "The connection was not set up. Reload the page.",
  NOT_LOGGED_IN: "You are not logged in.",
  ALREADY_LOGGED_IN: "You are logged in already.",
  INVALID_NAME: "Login names have 3–32 characters: a–z, 0–9, _ . -",
  INVALID_PASSWORD: "Passwords have 8–128 characters and no control characters.",
  INVALID_NICKNAME: "Nicknames have 1–32 characters and no control characters.",
  INVALID_TEXT: "The message is empty or too long.",
  INVALID_ROOM: "Room names have 3–32 characters: a–z, 0–9, _ . -",
  INVALID_TITLE: "Room titles have 1–64 characters.",
  INVALID_TOPIC: "Topics have at most 300 characters on one line.",
  NAME_TAKEN: "This login name is taken.",
  NICK_TAKEN: "This nickname is taken.",
  ROOM_TAKEN: "A room with this name exists.",
  UNKNOWN_USER: "There is no such user.",
  WRONG_PASSWORD: "Wrong name or password.",
  INVALID_TOKEN: "Your session has ended. Please log in again.",
  SELF_MESSAGE: "You cannot write to yourself.",
  NO_SUCH_ROOM: "There is no such room.",
  NOT_A_MEMBER: "You are not a member of this room.",
  ALREADY_MEMBER: "They are a member already.",
  BANNED: "You are banned from this room.",
  INVITE_ONLY: "This room needs an invitation.",
  NOT_OWNER: "Only the room's owner may do that.",
  NOT_ALLOWED: "That is not allowed.",
  TOO_MANY_ROOMS: "You are in too many rooms.",
  RATE_LIMITED: "Slow down a little and try again.",
  FLOODING: "Disconnected for sending too fast.",
  LOGIN_THROTTLED: "Too many attempts. Wait a moment and try again.",
  SLOW_CONSUMER: "The connection was too slow.",
  TIMEOUT: "The connection timed out.",
  SHUTTING_DOWN: "The server is restarting.",
  UNAVAILABLE: "The server cannot reach its store right now. Try again.",
  INTERNAL: "Something went wrong on the server.",
};

const errorsZh: Record<ErrorCode, string> = {
  BAD_FRAME: "服务器无法读取本页面发送的消息。",
  FRAME_TOO_LARGE: "内容太长，无法发送。",
  BAD_REQUEST: "服务器无法理解这个请求。",
  UNKNOWN_TYPE: "服务器无法理解这个请求。",
  UNSUPPORTED_VERSION: "页面版本过旧，请刷新。",
  HELLO_REQUIRED: "连接尚未建立，请刷新页面。",
  NOT_LOGGED_IN: "你还没有登录。",
  ALREADY_LOGGED_IN: "你已经登录了。",
  INVALID_NAME: "登录名为 3–32 个字符：a–z、0–9、_ . -",
  INVALID_PASSWORD: "密码为 8–128 个字符，不能有控制字符。",
  INVALID_NICKNAME: "昵称为 1–32 个字符，不能有控制字符。",
  INVALID_TEXT: "消息为空或太长。",
  INVALID_ROOM: "聊天室名称为 3–32 个字符：a–z、0–9、_ . -",
  INVALID_TITLE: "聊天室标题为 1–64 个字符。",
  INVALID_TOPIC: "话题最多 300 个字符，且只能一行。",
  NAME_TAKEN: "这个登录名已被占用。",
  NICK_TAKEN: "这个昵称已被占用。",
  ROOM_TAKEN: "已有同名的聊天室。",
  UNKNOWN_USER: "没有这个用户。",
  WRONG_PASSWORD: "用户名或密码错误。",
  INVALID_TOKEN: "会话已结束，请重新登录。",
  SELF_MESSAGE: "不能给自己发私信。",
  NO_SUCH_ROOM: "没有这个聊天室。",
  NOT_A_MEMBER: "你不是这个聊天室的成员。",
  ALREADY_MEMBER: "对方已经是成员了。",
  BANNED: "你已被这个聊天室封禁。",
  INVITE_ONLY: "这个聊天室需要邀请才能加入。",
  NOT_OWNER: "只有聊天室的创建者可以这样做。",
  NOT_ALLOWED: "不允许这样做。",
  TOO_MANY_ROOMS: "你加入的聊天室太多了。",
  RATE_LIMITED: "发送太快了，请稍后再试。",
  FLOODING: "发送太快，连接已被断开。",
  LOGIN_THROTTLED: "尝试次数过多，请稍后再试。",
  SLOW_CONSUMER: "连接太慢。",
  TIMEOUT: "连接超时。",
  SHUTTING_DOWN: "服务器正在重启。",
  UNAVAILABLE: "服务器暂时无法访问存储，请重试。",
  INTERNAL: "服务器出错了。",
};

/** Every text of every language. */
export const TEXTS: Readonly<Record<Lang, Readonly<Record<TextKey, string>>>> = {
  en,
  "zh-CN": zh,
};

/** Every error message of every language. */
export const ERROR_TEXTS: Readonly<Record<Lang, Readonly<Record<ErrorCode, string>>>> = {
  en: errorsEn,
  "zh-CN": errorsZh,
};

/**
 * The language for the browser's preferred languages (`navigator.languages`): Chinese for
 * any `zh` tag, English otherwise; a saved choice wins.
 *
 * @example
 * ```ts
 * pickLang(["zh-TW", "en"]); // "zh-CN"
 * pickLang(["de-DE", "en-GB"]); // "en"
 * ```
 */
export function pickLang(preferred: readonly string[], saved?: string | null): Lang {
  if (saved === "en" || saved === "zh-CN") return saved;
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    if (lower === "en" || lower.startsWith("en-")) return "en";
    if (lower === "zh" || lower.startsWith("zh-")) return "zh-CN";
  }
  return "en";
}

/**
 * A text with its `{placeholders}` filled.
 *
 * @example
 * ```ts
 * t("en", "side.unread", { n: 3 }); // "3 unread"
 * ```
 */
export function t(lang: Lang, key: TextKey, params: Record<string, string | number> = {}): string {
  return fill(TEXTS[lang][key] ?? TEXTS.en[key], params);
}

/** The plain-language message for an error code. */
export function errorText(lang: Lang, code: ErrorCode): string {
  return ERROR_TEXTS[lang][code] ?? ERROR_TEXTS.en[code] ?? code;
}

/** The `{name}` placeholders of a text, sorted. */
export function placeholders(text: string): string[] {
  return [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
}

function fill(text: string, params: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (all, name) => name in params ? String(params[name]) : all);
}
