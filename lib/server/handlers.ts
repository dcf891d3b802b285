/**
 * The command table: for each client message type, who may send it and what it does.
 * Preconditions are checked in one place (`dispatch.ts`) before any handler runs; handlers
 * return the fields of the `ok` reply or throw a {@linkcode ChatError}. They never touch
 * sockets.
 *
 * @module
 */

import { HasherBusyError, type JobLimits } from "../auth/password.ts";
import { hashToken, newToken } from "../auth/token.ts";
import { encodeMessage } from "../protocol/codec.ts";
import { ChatError } from "../protocol/errors.ts";
import {
  type ChatMessage,
  type ClientMessage,
  type ClientType,
  type LoginResult,
  PROTOCOL_VERSION,
  type RankEntry,
  type ResultMap,
  type UserInfo,
} from "../protocol/messages.ts";
import { checkName, checkNickname, checkPassword, checkText, foldName } from "../protocol/rules.ts";
import { type ActivityCount, utcDay } from "../store/store.ts";
import { type Context, type Core, SERVER_NAME } from "./context.ts";

/** Who may send a message: before `hello`, greeted and logged out, logged in, or greeted. */
export type Access = "greeting" | "guest" | "user" | "greeted";

/** One row of the command table. */
export interface Handler<T extends ClientMessage> {
  access: Access;
  /** Frames after this one wait until it is done (login, logout...). */
  exclusive?: boolean;
  run(ctx: Context, message: T): Promise<object | void> | object | void;
}

type Table = { [K in ClientType]: Handler<Extract<ClientMessage, { type: K }>> };

const HISTORY_DEFAULT = 20;
const HISTORY_MAX = 200;
const TOP_DEFAULT = 5;
const TOP_MAX = 50;
const KNOWN_USERS_MAX = 100_000;
const USERS_MAX = 1000;
const LOGIN_ONLINE_MAX = 200;
/** Room in a frame for everything of a reply but its list. */
const REPLY_OVERHEAD = 1024;

/**
 * The longest prefix of `items` whose JSON fits in one frame next to the rest of a reply,
 * so a long list never makes a reply too large to send.
 */
function fitFrame<T>(core: Core, items: T[]): T[] {
  let budget = core.config.maxFrame - REPLY_OVERHEAD;
  // Fast path: UTF-8 needs at most 3 bytes per UTF-16 unit of the JSON.
  if (JSON.stringify(items).length * 3 <= budget) return items;
  for (let i = 0; i < items.length; i++) {
    budget -= utf8.encode(JSON.stringify(items[i])).length + 1;
    // The first item always fits: the configuration guarantees room for one message.
    if (budget < 0 && i > 0) return items.slice(0, i);
  }
  return items;
}

const utf8 = new TextEncoder();

/** The command table. */
export const HANDLERS: Table = {
  hello: {
    access: "greeting",
    exclusive: true,
    run({ core, session }, message): ResultMap["hello"] {
      if (message.protocol !== PROTOCOL_VERSION) {
        throw new ChatError(
          "UNSUPPORTED_VERSION",
          `This server speaks protocol ${PROTOCOL_VERSION}, not ${message.protocol}`,
        );
      }
      session.phase = "guest";
      return {
        protocol: PROTOCOL_VERSION,
        server: SERVER_NAME,
        node: core.config.nodeId,
        maxFrame: core.config.maxFrame,
        pingInterval: core.config.pingIntervalMs,
      };
    },
  },

  register: {
    access: "guest",
    exclusive: true,
    async run({ core, session }, message): Promise<ResultMap["register"]> {
      const name = checkName(message.name);
      const password = checkPassword(message.password);
      const nickname = checkNickname(message.nickname);
      const { wait, limit } = core.registrations.admit(session.addressKey, core.now());
      if (wait > 0) {
        const from = limit === "address" ? "from your address" : "on this server";
        throw new ChatError(
          "LOGIN_THROTTLED",
          `Too many registrations ${from}; try again in ${wait} s`,
          wait,
        );
      }
      const passwordHash = await busy(core.hasher.hash(password, hashLimits(session)));
      const result = await core.store.createUser({
        name,
        nickname,
        passwordHash,
        createdAt: core.now(),
      });
      if (result === "name_taken") {
        throw new ChatError("NAME_TAKEN", `The login name "${name}" is already taken`);
      }
      if (result === "nick_taken") {
        throw new ChatError("NICK_TAKEN", `The nickname "${nickname}" is already taken`);
      }
      rememberUser(core, name);
      core.log.info("register", { user: name, remote: session.remote });
      return { user: { name, nickname } };
    },
  },

  login: {
    access: "guest",
    exclusive: true,
    async run(ctx, message): Promise<LoginResult> {
      const { core, session } = ctx;
      const name = checkName(message.name);
      const guard = core.loginGuard;
      throttled(guard.admitLogin(name, session.addressKey, core.now()));
      const user = await core.store.getUser(name);
      if (!user) {
        guard.addressFailed(session.addressKey, core.now());
        throw new ChatError("UNKNOWN_USER", `There is no user named "${name}"`);
      }
      const limits = hashLimits(session);
      if (!await busy(core.hasher.verify(message.password, user.passwordHash, limits))) {
        core.log.info("login_failed", { user: name, remote: session.remote });
        guard.loginFailed(name, session.addressKey, core.now());
        throw new ChatError("WRONG_PASSWORD", "Wrong password");
      }
      guard.succeeded(name, session.addressKey, core.now());
      const token = newToken();
      const tokenHash = hashToken(token);
      await core.store.saveToken(tokenHash, name, core.config.tokenTtlMs);
      const expiresAt = core.now() + core.config.tokenTtlMs;
      const info = { name, nickname: user.nickname };
      return await enter(ctx, info, token, tokenHash, message.since, expiresAt);
    },
  },

  resume: {
    access: "guest",
    exclusive: true,
    async run(ctx, message): Promise<LoginResult> {
      const { core, session } = ctx;
      throttled(core.loginGuard.admitResume(session.addressKey, core.now()));
      const tokenHash = hashToken(message.token);
      const token = await core.store.lookupToken(tokenHash);
      const user = token === null ? null : await core.store.getUser(token.name);
      if (!token || !user) {
        core.loginGuard.addressFailed(session.addressKey, core.now());
        throw new ChatError("INVALID_TOKEN", "The session has expired or was ended; log in again");
      }
      core.loginGuard.succeeded(user.name, session.addressKey, core.now());
      // Sliding expiry, renewed once half of the lifetime is used (not at every resume).
      let expiresAt = token.expiresAt;
      if (expiresAt - core.now() < core.config.tokenTtlMs / 2) {
        await core.store.saveToken(tokenHash, user.name, core.config.tokenTtlMs);
        expiresAt = core.now() + core.config.tokenTtlMs;
      }
      const info = { name: user.name, nickname: user.nickname };
      return await enter(ctx, info, message.token, tokenHash, message.since, expiresAt);
    },
  },

  logout: {
    access: "user",
    exclusive: true,
    async run({ core, session }): Promise<ResultMap["logout"]> {
      const name = session.user!.name;
      if (session.tokenHash) await core.store.revokeToken(session.tokenHash);
      session.tokenHash = null;
      try {
        await core.hub.detach(session, "logout");
      } finally {
        session.phase = "guest";
        session.loginDeadline = core.now() + core.config.loginTimeoutMs;
      }
      core.log.info("logout", { user: name, remote: session.remote });
      return {};
    },
  },

  send: {
    access: "user",
    async run({ core, session }, message): Promise<ResultMap["send"]> {
      const text = checkText(message.text, core.config.maxText);
      const user = session.user!;
      let to: string | undefined;
      if (message.to !== undefined) {
        to = await existingUser(core, message.to);
        if (to === user.name) {
          throw new ChatError("SELF_MESSAGE", "You cannot send a private message to yourself");
        }
      }
      const [stored] = await core.store.append(
        [{ ts: core.now(), from: user.name, nick: user.nickname, to, text }],
        session.key,
      );
      return { msgId: stored.id, ts: stored.ts };
    },
  },

  ack: {
    access: "user",
    run({ core, session }, message): void {
      const upTo = Math.min(message.upTo, session.maxSentId);
      if (upTo > 0) core.hub.noteAck(session.user!.name, upTo);
    },
  },

  users: {
    access: "user",
    async run({ core }, message): Promise<ResultMap["users"]> {
      const limit = Math.min(message.limit || USERS_MAX, USERS_MAX);
      const { users, total } = await core.hub.online(limit);
      return { users: fitFrame(core, users), total };
    },
  },

  count: {
    access: "user",
    async run({ core }): Promise<ResultMap["count"]> {
      return await core.hub.counts();
    },
  },

  nick: {
    access: "user",
    exclusive: true,
    async run({ core, session }, message): Promise<ResultMap["nick"]> {
      const nickname = checkNickname(message.nickname);
      const user = session.user!;
      const old = user.nickname;
      if (nickname === old) return { user: { ...user } };
      const result = await core.store.setNickname(user.name, nickname, session.key);
      if (result === "nick_taken") {
        throw new ChatError("NICK_TAKEN", `The nickname "${nickname}" is already taken`);
      }
      if (result === "unknown_user") throw new ChatError("INTERNAL", "Account not found");
      user.nickname = nickname;
      core.log.info("nick", { user: user.name, old, nickname });
      return { user: { name: user.name, nickname } };
    },
  },

  top: {
    access: "user",
    async run({ core }, message): Promise<ResultMap["top"]> {
      const limit = Math.min(message.limit ?? TOP_DEFAULT, TOP_MAX) || TOP_DEFAULT;
      const day = utcDay(core.now());
      const { allTime, today } = await core.store.top(limit, day);
      const names = [...new Set([...allTime, ...today].map((entry) => entry.name))];
      const nicknames = new Map(
        (await core.store.getUsers(names)).map((user) => [user.name, user.nickname]),
      );
      const rank = (list: ActivityCount[]): RankEntry[] =>
        list.map(({ name, count }) => ({ name, nickname: nicknames.get(name) ?? name, count }));
      return { allTime: rank(allTime), today: rank(today), day };
    },
  },

  history: {
    access: "user",
    async run({ core, session }, message): Promise<ResultMap["history"]> {
      const me = session.user!.name;
      const limit = Math.min(message.limit ?? HISTORY_DEFAULT, HISTORY_MAX) || HISTORY_DEFAULT;
      let between: [string, string] | undefined;
      if (message.with !== undefined) between = [me, await existingUser(core, message.with)];
      const page = await core.store.history({ between, before: message.before, limit });
      const messages = fitFrame(core, page.messages);
      return {
        messages: messages.reverse(),
        more: page.more || messages.length < page.messages.length,
      };
    },
  },

  ping: {
    access: "greeted",
    run(): ResultMap["ping"] {
      return {};
    },
  },

  pong: {
    access: "greeted",
    run(): void {},
  },
};

/** Makes the session live, replies, then delivers what was stored while away. */
async function enter(
  ctx: Context,
  info: UserInfo,
  token: string,
  tokenHash: string,
  since: number | undefined,
  tokenExpiresAt: number,
): Promise<LoginResult> {
  const { core, session } = ctx;
  // The connection may have closed while the password was checked.
  session.signal.throwIfAborted();
  session.tokenHash = tokenHash;
  await core.hub.attach(session, info);
  try {
    return await loggedIn(ctx, info, token, since, tokenExpiresAt);
  } catch (error) {
    // Half a login is no login: undo it, so the client can simply try again.
    await core.hub.detach(session, "drop");
    const phase: string = session.phase; // attach made it "user", unless it closed since
    if (phase === "user") session.phase = "guest";
    throw error;
  }
}

/** The rest of a login once the session is live: queues the backlog, builds the reply. */
async function loggedIn(
  ctx: Context,
  info: UserInfo,
  token: string,
  since: number | undefined,
  tokenExpiresAt: number,
): Promise<LoginResult> {
  const { core, session } = ctx;
  rememberUser(core, info.name);
  core.log.info("login", { user: info.name, remote: session.remote });
  // Group messages the hub is still batching must join the hold, not follow the backlog.
  const flush = () => core.hub.flush();
  ctx.after(async () => {
    let backlog;
    try {
      backlog = await core.store.backlog(info.name, {
        since,
        groupLimit: core.config.backlogLimit,
      });
    } catch (error) {
      await session.release([], flush);
      throw error;
    }
    if (session.user?.name !== info.name) return;
    const encode = (message: ChatMessage) => ({
      message,
      frame: encodeMessage({ type: "message", msg: message, away: true }, core.config.maxFrame),
    });
    // What you sent yourself is not news to you (history has it).
    const group = backlog.group.filter((message) => message.from !== info.name);
    await session.release([...backlog.private, ...group].map(encode), flush);
    session.send({
      type: "backlog",
      private: backlog.private.length,
      group: group.length,
      skipped: backlog.skipped,
    });
  });
  const online = await core.hub.online(LOGIN_ONLINE_MAX);
  const result: LoginResult = {
    user: info,
    token,
    tokenExpiresAt,
    online: fitFrame(core, online.users),
    onlineTotal: online.total,
  };
  if (core.slowConsumers.delete(info.name)) {
    result.notice = "Your previous connection was closed because it did not read messages " +
      "fast enough (slow consumer); what it missed is delivered now";
  }
  return result;
}

/**
 * A session's password hashing must be done by its login deadline, and is dropped when the
 * session closes.
 */
function hashLimits(session: Context["session"]): JobLimits {
  return { deadline: session.loginDeadline, signal: session.signal };
}

/** Turns a refusal of the hashing queue into a throttle error the client can act on. */
async function busy<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof HasherBusyError)) throw error;
    const wait = error.retryAfter;
    throw new ChatError(
      "LOGIN_THROTTLED",
      `The server is busy with logins; try again in ${wait} s`,
      wait,
    );
  }
}

/** Refuses a login attempt the login guard says must wait `wait` seconds. */
function throttled(wait: number): void {
  if (wait > 0) {
    throw new ChatError(
      "LOGIN_THROTTLED",
      `Too many failed logins; try again in ${wait} s`,
      wait,
    );
  }
}

/** Casefolds `raw` and checks the account exists. */
async function existingUser(core: Core, raw: string): Promise<string> {
  const name = foldName(raw);
  if (core.knownUsers.has(name) || core.hub.isLocal(name)) return name;
  if (await core.store.getUser(name) === null) {
    throw new ChatError("UNKNOWN_USER", `There is no user named "${raw.slice(0, 40)}"`);
  }
  rememberUser(core, name);
  return name;
}

function rememberUser(core: Core, name: string): void {
  if (core.knownUsers.size >= KNOWN_USERS_MAX) core.knownUsers.clear();
  core.knownUsers.add(name);
}
