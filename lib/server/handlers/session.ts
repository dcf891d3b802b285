/**
 * Handlers of the session's own life: `hello`, `check`, `register`, `login`, `resume`,
 * `logout`, `ping`, `pong`.
 *
 * @module
 */

import { HasherBusyError, type JobLimits } from "../../auth/password.ts";
import { hashToken, newToken } from "../../auth/token.ts";
import { ChatError } from "../../protocol/errors.ts";
import {
  type Availability,
  type LoginResult,
  PROTOCOL_VERSION,
  type ResultMap,
} from "../../protocol/messages.ts";
import {
  checkName,
  checkNickname,
  checkPassword,
  checkRoomName,
  nicknameKey,
} from "../../protocol/rules.ts";
import type { UserRecord } from "../../store/contract/accounts.ts";
import { type Core, SERVER_NAME } from "../context.ts";
import type { Session } from "../session.ts";
import { enter } from "../login_sequence.ts";
import { rememberUser, type Rows } from "./common.ts";

/** The rows of these handlers. */
export const SESSION_HANDLERS: Rows<
  "hello" | "check" | "register" | "login" | "resume" | "logout" | "ping" | "pong"
> = {
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
        maxText: core.config.maxText,
        lobby: core.config.lobby,
        ...(core.worker === undefined ? {} : { worker: core.worker }),
      };
    },
  },

  check: {
    access: "greeted",
    async run({ core, session }, message): Promise<ResultMap["check"]> {
      const out: ResultMap["check"] = {};
      if (message.name !== undefined) {
        out.name = await availability(
          () => checkName(message.name!),
          async (name) => (await core.store.accounts.getUser(name)) === null,
        );
      }
      if (message.nickname !== undefined) {
        out.nickname = await availability(() => checkNickname(message.nickname!), async (nick) => {
          const owner = await core.store.accounts.nameOfNickname(nicknameKey(nick));
          return owner === null || owner === session.user?.name;
        });
      }
      if (message.room !== undefined) {
        out.room = await availability(
          () => checkRoomName(message.room!),
          async (room) => (await core.store.rooms.get(room)) === null,
        );
      }
      return out;
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
      session.throwIfClosed();
      const lobby = core.config.lobby;
      const record: UserRecord = { name, nickname, passwordHash, createdAt: core.now() };
      if (lobby) record.lobbyPending = true;
      const result = await core.store.accounts.createUser(record);
      if (result === "name_taken") {
        throw new ChatError("NAME_TAKEN", `The login name "${name}" is already taken`);
      }
      if (result === "nick_taken") {
        throw new ChatError("NICK_TAKEN", `The nickname "${nickname}" is already taken`);
      }
      rememberUser(core, name);
      if (lobby) await joinLobby(core, name, nickname);
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
      const user = await core.store.accounts.getUser(name);
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
      if (user.lobbyPending && core.config.lobby) await joinLobby(core, name, user.nickname);
      const token = newToken();
      const tokenHash = hashToken(token);
      await core.store.accounts.saveToken(tokenHash, name, core.config.tokenTtlMs);
      return await enter(ctx, {
        user: { name, nickname: user.nickname },
        token,
        tokenHash,
        tokenExpiresAt: core.now() + core.config.tokenTtlMs,
        positions: message.positions,
      });
    },
  },

  resume: {
    access: "guest",
    exclusive: true,
    async run(ctx, message): Promise<LoginResult> {
      const { core, session } = ctx;
      throttled(core.loginGuard.admitResume(session.addressKey, core.now()));
      const tokenHash = hashToken(message.token);
      const token = await core.store.accounts.lookupToken(tokenHash);
      const user = token === null ? null : await core.store.accounts.getUser(token.name);
      if (!token || !user) {
        core.loginGuard.addressFailed(session.addressKey, core.now());
        throw new ChatError("INVALID_TOKEN", "The session has expired or was ended; log in again");
      }
      core.loginGuard.succeeded(user.name, session.addressKey, core.now());
      // Sliding expiry, renewed once half of the lifetime is used (not at every resume).
      let expiresAt = token.expiresAt;
      if (expiresAt - core.now() < core.config.tokenTtlMs / 2) {
        await core.store.accounts.saveToken(tokenHash, user.name, core.config.tokenTtlMs);
        expiresAt = core.now() + core.config.tokenTtlMs;
      }
      if (user.lobbyPending && core.config.lobby) await joinLobby(core, user.name, user.nickname);
      return await enter(ctx, {
        user: { name: user.name, nickname: user.nickname },
        token: message.token,
        tokenHash,
        tokenExpiresAt: expiresAt,
        positions: message.positions,
      });
    },
  },

  logout: {
    access: "user",
    exclusive: true,
    async run({ core, session }): Promise<ResultMap["logout"]> {
      const name = session.user!.name;
      if (session.tokenHash) await core.store.accounts.revokeToken(session.tokenHash);
      session.tokenHash = null;
      try {
        await core.hub.detach(session, "logout");
      } finally {
        for (const stream of [...session.positions.streams()]) session.positions.stop(stream);
        session.filling = null;
        session.user = null;
        if (session.phase === "user") session.phase = "guest";
        session.loginDeadline = core.now() + core.config.loginTimeoutMs;
      }
      core.log.info("logout", { user: name, remote: session.remote });
      return {};
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

/**
 * Makes an account a member of the lobby (at registration, or repairing one) and announces it
 * to the lobby's members when the lobby is within the presence limit.
 */
async function joinLobby(core: Core, name: string, nickname: string): Promise<void> {
  const lobby = core.config.lobby!;
  const outcome = await core.store.rooms.join(lobby, name, core.config.maxRooms);
  if (outcome === "joined") {
    const head = await core.store.streams.head(`#${lobby}`);
    await core.store.streams.setCursor(name, `#${lobby}`, head.seq);
    const room = await core.store.rooms.get(lobby);
    if (room && room.members <= core.config.presenceRoomLimit) {
      await core.hub.publish(`#${lobby}`, {
        type: "member",
        room: lobby,
        user: { name, nickname },
        action: "join",
      });
    }
  }
  await core.store.accounts.lobbyJoined(name);
}

async function availability(
  check: () => string,
  isFree: (value: string) => Promise<boolean>,
): Promise<Availability> {
  let value: string;
  try {
    value = check();
  } catch (error) {
    if (error instanceof ChatError) return "invalid";
    throw error;
  }
  return await isFree(value) ? "free" : "taken";
}

/**
 * A session's password hashing must be done by its login deadline, and is dropped when the
 * session closes.
 */
function hashLimits(session: Session): JobLimits {
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
    throw new ChatError("LOGIN_THROTTLED", `Too many failed logins; try again in ${wait} s`, wait);
  }
}
