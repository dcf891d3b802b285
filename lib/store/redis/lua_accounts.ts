/**
 * Lua scripts of the accounts: each runs in one slot, `KEYS[1]` the slot's base key (see
 * `keys.ts`).
 *
 * @module
 */

import type { Script } from "./link.ts";

/**
 * Claims a nickname reservation (`KEYS[1]` = `p{n:<key>}`) if it still holds what was read.
 * ARGV: name, the holder read ('' for none), now. Returns 1 when claimed, 0 when it changed.
 */
export const CLAIM_NICK: Script = {
  name: "claim_nick",
  source: `
local holder = redis.call('HGET', KEYS[1], 'name') or ''
if holder ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'at', ARGV[3])
return 1
`,
};

/** Drops a nickname reservation if `ARGV[1]` holds it. */
export const RELEASE_NICK: Script = {
  name: "release_nick",
  source: `
if redis.call('HGET', KEYS[1], 'name') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`,
};

/**
 * Creates an account (`KEYS[1]` = `p{u:<name>}`). ARGV: name, nickname, password hash,
 * createdAt, '1' when the lobby join is pending. Returns 0 when the name is taken.
 */
export const CREATE_ACCOUNT: Script = {
  name: "create_account",
  source: `
local a = KEYS[1] .. ':a'
if redis.call('EXISTS', a) == 1 then return 0 end
redis.call('HSET', a, 'name', ARGV[1], 'nickname', ARGV[2], 'passwordHash', ARGV[3],
  'createdAt', ARGV[4])
if ARGV[5] == '1' then redis.call('HSET', a, 'lobbyPending', '1') end
return 1
`,
};

/**
 * Sets the nickname of an account if it still is the one read. ARGV: nickname read, new
 * nickname. Returns 'ok', 'retry' (it changed meanwhile) or 'unknown_user'.
 */
export const SET_NICKNAME: Script = {
  name: "set_nickname",
  source: `
local a = KEYS[1] .. ':a'
local current = redis.call('HGET', a, 'nickname')
if not current then return 'unknown_user' end
if current ~= ARGV[1] then return 'retry' end
redis.call('HSET', a, 'nickname', ARGV[2])
return 'ok'
`,
};

/** A token's holder and remaining lifetime (`KEYS[1]` = the token). Returns {name or '', ms}. */
export const TOKEN_OF: Script = {
  name: "token_of",
  source: `
return {redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}
`,
};
