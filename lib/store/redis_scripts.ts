/**
 * Lua scripts of the Redis store. Each runs atomically inside Redis; ARGV[1] is always the
 * key prefix, and keys and channels are built inside the scripts from it. On a Redis Cluster
 * the prefix is a hash tag (`{im}:`), so everything a script touches lies in one slot; the
 * store declares one key of that slot as KEYS[1], which routes the call to the shard that
 * owns it, and runs the scripts with `SPUBLISH` in place of `PUBLISH` (see `redis.ts`).
 *
 * @module
 */

/**
 * Appends messages. ARGV: prefix, groupMax, privateMax, inboxMax, then per message: to
 * ("" for the group), from, day, origin tag, and the message JSON after its id
 * (`,"ts":...}`). Assigns ids from one counter, stores, trims, counts activity and publishes
 * `origin\nJSON` to the feed in one step, so publish order equals id order for every
 * subscriber.
 */
export const APPEND = `
local p = ARGV[1]
local gmax, pmax, imax = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ids = {}
for i = 5, #ARGV, 5 do
  local to, from, day = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local id = redis.call('INCR', p .. 'seq')
  local json = '{"id":' .. id .. ARGV[i + 4]
  local payload = ARGV[i + 3] .. '\\n' .. json
  if to == '' then
    redis.call('ZADD', p .. 'group', id, json)
    redis.call('ZREMRANGEBYRANK', p .. 'group', 0, -gmax - 1)
    redis.call('PUBLISH', p .. 'feed:group', payload)
  else
    local a, b = from, to
    if b < a then a, b = b, a end
    local dm = p .. 'dm:' .. a .. ':' .. b
    redis.call('ZADD', dm, id, json)
    redis.call('ZREMRANGEBYRANK', dm, 0, -pmax - 1)
    local inbox = p .. 'inbox:' .. to
    redis.call('ZADD', inbox, id, json)
    redis.call('ZREMRANGEBYRANK', inbox, 0, -imax - 1)
    local nodes = redis.call('SUNION', p .. 'where:' .. to, p .. 'where:' .. from)
    for _, node in ipairs(nodes) do
      redis.call('PUBLISH', p .. 'feed:node:' .. node, payload)
    end
  end
  redis.call('ZINCRBY', p .. 'top:all', 1, from)
  redis.call('ZINCRBY', p .. 'top:day:' .. day, 1, from)
  redis.call('EXPIRE', p .. 'top:day:' .. day, 691200)
  ids[#ids + 1] = id
end
return ids
`;

/** Creates an account. ARGV: prefix, name, nickname key, nickname, hash, createdAt. */
export const REGISTER = `
local p, name, nickKey = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', p .. 'user:' .. name) == 1 then return 'name_taken' end
if redis.call('EXISTS', p .. 'nick:' .. nickKey) == 1 then return 'nick_taken' end
redis.call('HSET', p .. 'user:' .. name, 'name', name, 'nickname', ARGV[4],
  'passwordHash', ARGV[5], 'createdAt', ARGV[6])
redis.call('SET', p .. 'nick:' .. nickKey, name)
redis.call('HSET', p .. 'cursor', name, redis.call('GET', p .. 'seq') or '0')
return 'ok'
`;

/**
 * Changes a nickname. ARGV: prefix, name, expected current nickname, its key, new nickname,
 * new key, origin tag. Returns 'retry' when the nickname changed since it was read. On
 * success updates the online list and publishes a `nick` event.
 */
export const SET_NICKNAME = `
local p, name = ARGV[1], ARGV[2]
local user = p .. 'user:' .. name
local current = redis.call('HGET', user, 'nickname')
if not current then return 'unknown_user' end
if current ~= ARGV[3] then return 'retry' end
if ARGV[4] ~= ARGV[6] then
  local owner = redis.call('GET', p .. 'nick:' .. ARGV[6])
  if owner and owner ~= name then return 'nick_taken' end
  redis.call('DEL', p .. 'nick:' .. ARGV[4])
  redis.call('SET', p .. 'nick:' .. ARGV[6], name)
end
redis.call('HSET', user, 'nickname', ARGV[5])
if redis.call('HEXISTS', p .. 'online', name) == 1 then
  redis.call('HSET', p .. 'online', name, ARGV[5])
end
redis.call('PUBLISH', p .. 'feed:events', ARGV[7] .. '\\n' .. cjson.encode({
  type = 'nick', name = name, old = current, nickname = ARGV[5] }))
return 'ok'
`;

/**
 * Records acknowledgements. ARGV: prefix, then pairs of name and id. Advances each group
 * cursor (never backwards) and drops acknowledged inbox entries.
 */
export const ACKNOWLEDGE = `
local p = ARGV[1]
for i = 2, #ARGV, 2 do
  local name, upTo = ARGV[i], tonumber(ARGV[i + 1])
  local cursor = tonumber(redis.call('HGET', p .. 'cursor', name) or '0')
  if cursor < upTo then redis.call('HSET', p .. 'cursor', name, upTo) end
  redis.call('ZREMRANGEBYSCORE', p .. 'inbox:' .. name, '-inf', upTo)
end
return 1
`;

/**
 * This node holds sessions of a user. ARGV: prefix, node, name, nickname, presence JSON.
 * Publishes the `online` event when no node held the user before.
 */
export const JOIN = `
local p, node, name = ARGV[1], ARGV[2], ARGV[3]
redis.call('HSET', p .. 'nodeusers:' .. node, name, 1)
redis.call('HSET', p .. 'online', name, ARGV[4])
if redis.call('SADD', p .. 'where:' .. name, node) == 1
    and redis.call('SCARD', p .. 'where:' .. name) == 1 then
  redis.call('PUBLISH', p .. 'feed:events', '\\n' .. ARGV[5])
  return 1
end
return 0
`;

/** Shared by LEAVE and REAP: drops one node from a user; announces them offline if last. */
const LEAVE_ONE = `
local function leave(p, node, name, reason)
  redis.call('HDEL', p .. 'nodeusers:' .. node, name)
  if redis.call('SREM', p .. 'where:' .. name, node) == 1
      and redis.call('SCARD', p .. 'where:' .. name) == 0 then
    local nickname = redis.call('HGET', p .. 'online', name) or name
    redis.call('HDEL', p .. 'online', name)
    redis.call('PUBLISH', p .. 'feed:events', '\\n' .. cjson.encode({
      type = 'presence', user = { name = name, nickname = nickname },
      online = false, reason = reason }))
    return 1
  end
  return 0
end
`;

/** This node no longer holds sessions of a user. ARGV: prefix, node, name, reason. */
export const LEAVE = LEAVE_ONE + `
return leave(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
`;

/**
 * Removes a dead node: every user it held leaves with reason `node_down`. ARGV: prefix,
 * node. Returns how many users it held.
 */
export const REAP = LEAVE_ONE + `
local p, node = ARGV[1], ARGV[2]
local users = redis.call('HKEYS', p .. 'nodeusers:' .. node)
for _, name in ipairs(users) do leave(p, node, name, 'node_down') end
redis.call('DEL', p .. 'nodeusers:' .. node)
redis.call('SREM', p .. 'nodes', node)
redis.call('HDEL', p .. 'sessions', node)
return #users
`;
