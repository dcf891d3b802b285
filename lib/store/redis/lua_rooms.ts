/**
 * Lua scripts of the rooms, run in the room's slot (`KEYS[1]` = `p{r:<room>}`): every rule that
 * must hold at the moment of a write (membership, bans, ownership) is checked in the same
 * script as the write. The copies in the users' slots (room lists, invitations) are written
 * after, by the caller.
 *
 * @module
 */

import type { Script } from "./link.ts";

/** Removes a member's online entry (shared by part, kick and ban). */
const FORGET_ONLINE = `
local function forget_online(b, name)
  redis.call('HDEL', b .. ':on', name)
  redis.call('ZREM', b .. ':ol', name)
  redis.call('HDEL', b .. ':pv', name)
end
`;

/** The owner check of kick, ban, unban and transfer: an outcome, or nil when allowed. */
const OWNER_CHECK = `
local function owner_check(b, by)
  if redis.call('EXISTS', b .. ':i') == 0 then return 'no_room' end
  local owner = redis.call('HGET', b .. ':i', 'owner')
  if owner == '' then return 'no_owner' end
  if owner ~= by then
    if redis.call('ZSCORE', b .. ':m', by) then return 'not_owner' end
    return 'not_member'
  end
  return nil
end
`;

/**
 * Creates a room. ARGV: name, title, topic, public ('1'/'0'), owner ('' for none), createdAt,
 * how many rooms the owner is in, the most allowed. Returns 'ok', 'taken' or 'too_many'.
 */
export const CREATE_ROOM: Script = {
  name: "create_room",
  source: `
local b = KEYS[1]
if redis.call('EXISTS', b .. ':i') == 1 then return 'taken' end
local owner = ARGV[5]
if owner ~= '' and tonumber(ARGV[7]) >= tonumber(ARGV[8]) then return 'too_many' end
redis.call('HSET', b .. ':i', 'name', ARGV[1], 'title', ARGV[2], 'topic', ARGV[3],
  'public', ARGV[4], 'owner', owner, 'createdAt', ARGV[6])
if owner ~= '' then redis.call('ZADD', b .. ':m', 0, owner) end
return 'ok'
`,
};

/**
 * Makes a user a member. ARGV: user, how many rooms they are in, the most allowed. Returns
 * 'joined', 'already', 'no_room', 'banned', 'invite_only' or 'too_many'. Uses up an invitation.
 */
export const JOIN_ROOM: Script = {
  name: "join_room",
  source: `
local b, user = KEYS[1], ARGV[1]
if redis.call('EXISTS', b .. ':i') == 0 then return 'no_room' end
if redis.call('ZSCORE', b .. ':m', user) then return 'already' end
if redis.call('SISMEMBER', b .. ':b', user) == 1 then return 'banned' end
local record = redis.call('HMGET', b .. ':i', 'public', 'owner')
if record[1] ~= '1' and record[2] ~= user and redis.call('HEXISTS', b .. ':n', user) == 0 then
  return 'invite_only'
end
if tonumber(ARGV[2]) >= tonumber(ARGV[3]) then return 'too_many' end
redis.call('ZADD', b .. ':m', 0, user)
redis.call('HDEL', b .. ':n', user)
return 'joined'
`,
};

/**
 * Removes a member. ARGV: user. Returns {outcome, users whose invitations were dropped...}:
 * the last member leaving drops the room's invitations.
 */
export const PART_ROOM: Script = {
  name: "part_room",
  source: FORGET_ONLINE + `
local b, user = KEYS[1], ARGV[1]
if redis.call('EXISTS', b .. ':i') == 0 then return {'no_room'} end
if not redis.call('ZSCORE', b .. ':m', user) then return {'not_member'} end
local count = redis.call('ZCARD', b .. ':m')
if redis.call('HGET', b .. ':i', 'owner') == user and count > 1 then return {'owner'} end
redis.call('ZREM', b .. ':m', user)
forget_online(b, user)
local out = {'ok'}
if count == 1 then
  for _, invited in ipairs(redis.call('HKEYS', b .. ':n')) do out[#out + 1] = invited end
  redis.call('DEL', b .. ':n')
end
return out
`,
};

/** Invites a user. ARGV: by, user, invitation JSON {by, at}. */
export const INVITE: Script = {
  name: "invite",
  source: `
local b, by, user = KEYS[1], ARGV[1], ARGV[2]
if redis.call('EXISTS', b .. ':i') == 0 then return 'no_room' end
if not redis.call('ZSCORE', b .. ':m', by) then return 'not_member' end
if redis.call('ZSCORE', b .. ':m', user) then return 'already_member' end
if redis.call('SISMEMBER', b .. ':b', user) == 1 then return 'banned' end
redis.call('HSET', b .. ':n', user, ARGV[3])
return 'ok'
`,
};

/** The owner removes a member. ARGV: by, user. */
export const KICK: Script = {
  name: "kick",
  source: FORGET_ONLINE + OWNER_CHECK + `
local b, by, user = KEYS[1], ARGV[1], ARGV[2]
local denied = owner_check(b, by)
if denied then return denied end
if not redis.call('ZSCORE', b .. ':m', user) then return 'target_not_member' end
redis.call('ZREM', b .. ':m', user)
forget_online(b, user)
return 'ok'
`,
};

/** The owner bans a user: removed if a member, invitation dropped. ARGV: by, user. */
export const BAN: Script = {
  name: "ban",
  source: FORGET_ONLINE + OWNER_CHECK + `
local b, by, user = KEYS[1], ARGV[1], ARGV[2]
local denied = owner_check(b, by)
if denied then return denied end
redis.call('ZREM', b .. ':m', user)
forget_online(b, user)
redis.call('SADD', b .. ':b', user)
redis.call('HDEL', b .. ':n', user)
return 'ok'
`,
};

/** The owner lifts a ban. ARGV: by, user. */
export const UNBAN: Script = {
  name: "unban",
  source: OWNER_CHECK + `
local denied = owner_check(KEYS[1], ARGV[1])
if denied then return denied end
redis.call('SREM', KEYS[1] .. ':b', ARGV[2])
return 'ok'
`,
};

/** The owner hands the room to a member. ARGV: by, user. */
export const TRANSFER: Script = {
  name: "transfer",
  source: OWNER_CHECK + `
local b, by, user = KEYS[1], ARGV[1], ARGV[2]
local denied = owner_check(b, by)
if denied then return denied end
if not redis.call('ZSCORE', b .. ':m', user) then return 'target_not_member' end
redis.call('HSET', b .. ':i', 'owner', user)
return 'ok'
`,
};

/** A member sets the topic. ARGV: by, topic. */
export const SET_TOPIC: Script = {
  name: "set_topic",
  source: `
local b = KEYS[1]
if redis.call('EXISTS', b .. ':i') == 0 then return 'no_room' end
if not redis.call('ZSCORE', b .. ':m', ARGV[1]) then return 'not_member' end
redis.call('HSET', b .. ':i', 'topic', ARGV[2])
return 'ok'
`,
};

/**
 * A room's summary fields with its member count (`KEYS[1]` = the room). Returns {members,
 * field, value, ...} (no fields when the room does not exist).
 */
export const SUMMARY: Script = {
  name: "summary",
  source: `
local out = redis.call('HGETALL', KEYS[1] .. ':i')
table.insert(out, 1, redis.call('ZCARD', KEYS[1] .. ':m'))
return out
`,
};

/** A user's role in a room (`KEYS[1]` = the room). ARGV: user. Returns 'owner', 'member' or ''. */
export const ROLE_OF: Script = {
  name: "role_of",
  source: `
if not redis.call('ZSCORE', KEYS[1] .. ':m', ARGV[1]) then return '' end
if redis.call('HGET', KEYS[1] .. ':i', 'owner') == ARGV[1] then return 'owner' end
return 'member'
`,
};
