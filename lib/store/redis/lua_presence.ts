/**
 * Lua scripts of presence. The user's slot (`p{u:<name>}`) holds the truth: `:w` the nodes
 * holding sessions (a node id with its incarnation), `:pv` the presence version (one more on
 * every change), `:ps` {nick, away} while online, `:pr` the rooms the user is announced in.
 * The user scripts make the change, take the next version and publish the note on `~user`
 * (and `@user`) in one step, so notes on a user's channel come in version order. Room and
 * global lists are then brought in step by scripts guarded by the version, so that a late,
 * older update never overrides a newer one.
 *
 * @module
 */

import type { Script } from "./link.ts";

/** Builds a presence note and the user's list entry from the user's slot. */
const NOTES = `
local function info(name, nick, away)
  local user = {name = name, nickname = nick}
  if away then user.away = away end
  return cjson.encode(user)
end
local function presence_note(name, nick, online, pv, reason, away)
  local note = {type = 'presence', user = {name = name, nickname = nick}, online = online, pv = pv}
  if reason then note.reason = reason end
  if away then note.away = away end
  return cjson.encode(note)
end
`;

/**
 * A node now holds a session of the user. ARGV: node member, name, nickname, rooms... Returns
 * {first (1/0), pv, note, list entry, rooms to announce in...}: when first, the user came
 * online (announced on `~user`) and every room is to be announced; otherwise the rooms that
 * were not announced before.
 */
export const ATTACH: Script = {
  name: "attach",
  source: NOTES + `
local b, name = KEYS[1], ARGV[2]
local out
if redis.call('SADD', b .. ':w', ARGV[1]) == 1 and redis.call('SCARD', b .. ':w') == 1 then
  redis.call('DEL', b .. ':pr', b .. ':ps')
  redis.call('HSET', b .. ':ps', 'nick', ARGV[3])
  local pv = redis.call('INCR', b .. ':pv')
  local note = presence_note(name, ARGV[3], true, pv)
  redis.call(PUB, b .. ':p', 'e\\n' .. note)
  out = {1, pv, note, info(name, ARGV[3])}
  for i = 4, #ARGV do
    redis.call('SADD', b .. ':pr', ARGV[i])
    out[#out + 1] = ARGV[i]
  end
  return out
end
local nick = redis.call('HGET', b .. ':ps', 'nick') or ARGV[3]
local away = redis.call('HGET', b .. ':ps', 'away')
local pv = tonumber(redis.call('GET', b .. ':pv') or '0')
out = {0, pv, presence_note(name, nick, true, pv, nil, away), info(name, nick, away)}
for i = 4, #ARGV do
  if redis.call('SADD', b .. ':pr', ARGV[i]) == 1 then out[#out + 1] = ARGV[i] end
end
return out
`,
};

/**
 * A node no longer holds sessions of the user. ARGV: node member, name, reason. Returns {0}
 * while other nodes hold some, else {1, pv, note, rooms announced in...}: the user went
 * offline (away cleared; announced on `~user`).
 */
export const DETACH: Script = {
  name: "detach",
  source: NOTES + `
local b, name = KEYS[1], ARGV[2]
if redis.call('SREM', b .. ':w', ARGV[1]) == 0 or redis.call('SCARD', b .. ':w') > 0 then
  return {0}
end
local pv = redis.call('INCR', b .. ':pv')
local nick = redis.call('HGET', b .. ':ps', 'nick') or name
local note = presence_note(name, nick, false, pv, ARGV[3])
redis.call(PUB, b .. ':p', 'e\\n' .. note)
local out = {1, pv, note}
for _, room in ipairs(redis.call('SMEMBERS', b .. ':pr')) do out[#out + 1] = room end
redis.call('DEL', b .. ':pr', b .. ':ps')
return out
`,
};

/**
 * An online user joined a room. ARGV: name, room. Returns {} when offline or announced there
 * already, else {pv, note, list entry}.
 */
export const JOINED: Script = {
  name: "joined",
  source: NOTES + `
local b, name = KEYS[1], ARGV[1]
if redis.call('SCARD', b .. ':w') == 0 then return {} end
if redis.call('SADD', b .. ':pr', ARGV[2]) == 0 then return {} end
local nick = redis.call('HGET', b .. ':ps', 'nick') or name
local away = redis.call('HGET', b .. ':ps', 'away')
local pv = tonumber(redis.call('GET', b .. ':pv') or '0')
return {pv, presence_note(name, nick, true, pv, nil, away), info(name, nick, away)}
`,
};

/** The user left a room: not announced there any more. ARGV: room. */
export const PARTED: Script = {
  name: "parted",
  source: `return redis.call('SREM', KEYS[1] .. ':pr', ARGV[1])`,
};

/**
 * Sets (non-empty) or clears ('') the away reason of an online user. ARGV: name, reason.
 * Returns {} when offline, else {pv, note, list entry, rooms...}; announced on `~user` and
 * `@user`.
 */
export const SET_AWAY: Script = {
  name: "set_away",
  source: NOTES + `
local b, name = KEYS[1], ARGV[1]
if redis.call('SCARD', b .. ':w') == 0 then return {} end
local away = nil
if ARGV[2] == '' then
  redis.call('HDEL', b .. ':ps', 'away')
else
  away = ARGV[2]
  redis.call('HSET', b .. ':ps', 'away', away)
end
local nick = redis.call('HGET', b .. ':ps', 'nick') or name
local pv = redis.call('INCR', b .. ':pv')
local note = presence_note(name, nick, true, pv, nil, away)
redis.call(PUB, b .. ':p', 'e\\n' .. note)
redis.call(PUB, b .. ':in', 'e\\n' .. note)
local out = {pv, note, info(name, nick, away)}
for _, room in ipairs(redis.call('SMEMBERS', b .. ':pr')) do out[#out + 1] = room end
return out
`,
};

/**
 * A nickname change (online or not). ARGV: name, old, nickname. Announced on `~user` and
 * `@user`. Returns {pv, note, list entry ('' when offline), rooms...}.
 */
export const RENAMED: Script = {
  name: "renamed",
  source: NOTES + `
local b, name = KEYS[1], ARGV[1]
local pv = redis.call('INCR', b .. ':pv')
local note = cjson.encode({type = 'nick', name = name, old = ARGV[2], nickname = ARGV[3], pv = pv})
redis.call(PUB, b .. ':p', 'e\\n' .. note)
redis.call(PUB, b .. ':in', 'e\\n' .. note)
if redis.call('SCARD', b .. ':w') == 0 then return {pv, note, ''} end
redis.call('HSET', b .. ':ps', 'nick', ARGV[3])
local out = {pv, note, info(name, ARGV[3], redis.call('HGET', b .. ':ps', 'away'))}
for _, room in ipairs(redis.call('SMEMBERS', b .. ':pr')) do out[#out + 1] = room end
return out
`,
};

/**
 * Brings a room's online list in step with a user's change (`KEYS[1]` = the room). ARGV:
 * name, pv, list entry ('' offline, '-' unchanged), note ('' none), the presence room limit.
 * Ignored when older than the last change applied; a member's note is published on the room's
 * channel when it is newer and the room has at most the limit of members.
 */
export const ROOM_PRESENCE: Script = {
  name: "room_presence",
  source: `
local b, name, pv, entry = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local last = tonumber(redis.call('HGET', b .. ':pv', name) or '-1')
if pv < last then return 0 end
if not redis.call('ZSCORE', b .. ':m', name) then
  redis.call('HDEL', b .. ':on', name)
  redis.call('ZREM', b .. ':ol', name)
  redis.call('HDEL', b .. ':pv', name)
  return 0
end
if entry == '' then
  redis.call('HDEL', b .. ':on', name)
  redis.call('ZREM', b .. ':ol', name)
elseif entry ~= '-' then
  redis.call('HSET', b .. ':on', name, entry)
  redis.call('ZADD', b .. ':ol', 0, name)
end
redis.call('HSET', b .. ':pv', name, pv)
if pv > last and ARGV[4] ~= '' and redis.call('ZCARD', b .. ':m') <= tonumber(ARGV[5]) then
  redis.call(PUB, b, 'e\\n' .. ARGV[4])
end
return 1
`,
};

/** A user left a room: off its online list (`KEYS[1]` = the room). ARGV: name. */
export const ROOM_PARTED: Script = {
  name: "room_parted",
  source: `
redis.call('HDEL', KEYS[1] .. ':on', ARGV[1])
redis.call('ZREM', KEYS[1] .. ':ol', ARGV[1])
redis.call('HDEL', KEYS[1] .. ':pv', ARGV[1])
return 1
`,
};

/**
 * Brings the global online list in step (`KEYS[1]` = the global slot). ARGV: name, pv, list
 * entry ('' offline), now. Guarded like the room lists; the versions of users offline for
 * more than ten minutes are forgotten, a few per call.
 */
export const GLOBAL_PRESENCE: Script = {
  name: "global_presence",
  source: `
local g, name, pv, entry, now = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local last = tonumber(redis.call('HGET', g .. ':pv', name) or '-1')
if pv < last then return 0 end
redis.call('HSET', g .. ':pv', name, pv)
if entry == '' then
  redis.call('ZREM', g .. ':on', name)
  redis.call('HDEL', g .. ':onh', name)
  redis.call('ZADD', g .. ':gone', now, name)
else
  redis.call('ZADD', g .. ':on', 0, name)
  redis.call('HSET', g .. ':onh', name, entry)
  redis.call('ZREM', g .. ':gone', name)
end
for _, old in ipairs(redis.call('ZRANGEBYSCORE', g .. ':gone', '-inf', now - 600000, 'LIMIT', 0, 20)) do
  redis.call('HDEL', g .. ':pv', old)
  redis.call('ZREM', g .. ':gone', old)
end
return 1
`,
};

/**
 * A room's online list (`KEYS[1]` = the room): ARGV: how many entries at most. Returns
 * {total, entries...}.
 */
export const ROOM_ONLINE: Script = {
  name: "room_online",
  source: `
local b, limit = KEYS[1], tonumber(ARGV[1])
local out = {redis.call('ZCARD', b .. ':ol')}
if limit <= 0 then return out end
local names = redis.call('ZRANGE', b .. ':ol', 0, limit - 1)
if #names == 0 then return out end
for i = 1, #names, 1000 do
  local part = redis.call('HMGET', b .. ':on', unpack(names, i, math.min(i + 999, #names)))
  for _, entry in ipairs(part) do
    if entry then out[#out + 1] = entry end
  end
end
return out
`,
};

/** Users online and the sessions of every node (`KEYS[1]` = the global slot): {users, n...}. */
export const COUNTS: Script = {
  name: "counts",
  source: `
local out = redis.call('HVALS', KEYS[1] .. ':sess')
table.insert(out, 1, redis.call('ZCARD', KEYS[1] .. ':on'))
return out
`,
};
