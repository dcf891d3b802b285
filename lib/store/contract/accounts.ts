/**
 * The `Accounts` contract: user accounts, unique nicknames and resume tokens. Names are
 * casefolded login names (see `lib/protocol/rules.ts`); nickname keys are `nicknameKey()`.
 *
 * @module
 */

/** An account as stored. `passwordHash` never leaves the server. */
export interface UserRecord {
  name: string;
  nickname: string;
  /** Encoded salted scrypt hash (see `lib/auth/password.ts`). */
  passwordHash: string;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /**
   * Set at creation when the account still has to be made a member of the lobby; cleared by
   * {@linkcode Accounts.lobbyJoined}. A login that finds it set joins the lobby first (this
   * repairs a registration interrupted between the two writes).
   */
  lobbyPending?: boolean;
}

/** Outcome of an atomic account creation. */
export type CreateUserResult = "ok" | "name_taken" | "nick_taken";

/** Outcome of a nickname change. */
export type SetNicknameResult =
  | { result: "ok"; old: string }
  | { result: "nick_taken" | "unknown_user" };

/** A live resume token. */
export interface TokenInfo {
  name: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

/** Accounts, nicknames and tokens. */
export interface Accounts {
  /**
   * Creates an account and reserves its nickname. Of two racing registrations of one name or
   * one nickname key exactly one succeeds. A nickname reservation left behind by an interrupted
   * write (a reservation whose account does not carry that nickname) does not block anyone.
   */
  createUser(user: UserRecord): Promise<CreateUserResult>;
  /** Reads one account; null when there is none. */
  getUser(name: string): Promise<UserRecord | null>;
  /** Nicknames of several accounts by name; unknown names are left out. */
  nicknames(names: readonly string[]): Promise<Map<string, string>>;
  /** The account that holds a nickname key; null when it is free. */
  nameOfNickname(key: string): Promise<string | null>;
  /**
   * Changes a nickname: of two racing users exactly one wins a nickname key. Changing to a
   * nickname with the same key as one's own (case, width) succeeds.
   */
  setNickname(name: string, nickname: string): Promise<SetNicknameResult>;
  /** Clears {@linkcode UserRecord.lobbyPending}. */
  lobbyJoined(name: string): Promise<void>;

  /** Stores a resume token (by its hash) for `ttlMs`. */
  saveToken(tokenHash: string, name: string, ttlMs: number): Promise<void>;
  /** The user a live token belongs to and its expiry; null when unknown, expired or revoked. */
  lookupToken(tokenHash: string): Promise<TokenInfo | null>;
  /** Revokes a token. */
  revokeToken(tokenHash: string): Promise<void>;
}
