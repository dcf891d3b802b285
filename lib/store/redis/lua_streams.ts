/**
 * Lua scripts of the streams. A stream lives in its owner's slot (`KEYS[1]` = `p{r:<room>}` or
 * `p{u:<name>}`): `:s` the messages (score = position), `:h` the head {seq, epoch}. An append
 * takes the next position from the head, stores, trims, and publishes the stored message on
 * the stream's channel in the same script, so publish order is position order. Each append
 * script takes a batch of messages for its slot and answers per message.
 *
 * The message JSON is built from the stream name and position (made here) and the rest of
 * the message (`,"ts":…}`, made by the caller), so that no JSON is re-encoded in Lua.
 *
 * @module
 */

import type { Script } from "./link.ts";

/** The epoch of the stream at base `b`, made from `candidate` when the stream has none. */
const HEAD = `
local function epoch_of(b, candidate)
  redis.call('HSETNX', b .. ':h', 'epoch', candidate)
  return redis.call('HGET', b .. ':h', 'epoch')
end
local function position(b)
  return tonumber(redis.call('HGET', b .. ':h', 'seq') or '0')
end
`;

/**
 * An idempotency key's stored result, when it belongs to the stream's current epoch:
 * the position, the stored message JSON ('' when trimmed since) and the message's ts.
 */
const DEDUPE = `
local function seen(b, key, epoch)
  local v = redis.call('GET', key)
  if not v then return nil end
  local e, seq, ts = string.match(v, '^([^:]*):(%d+):(%d+)$')
  if e ~= epoch then return nil end
  local rows = redis.call('ZRANGEBYSCORE', b .. ':s', seq, seq)
  return seq, rows[1] or '', ts
end
`;

/**
 * Appends room messages (`KEYS[1]` = the room). ARGV: roomMax, dedupe window ms, epoch
 * candidate, stream name as JSON, day key TTL s, then per message: from, key ('' none),
 * origin, UTC day, ts, the JSON after the position. Returns the epoch, then per message four
 * items: 'ok', the position, '', ''; 'dup', the first position, its stored JSON ('' when
 * trimmed) and ts; or 'no_room'/'not_member' and three ''.
 */
export const APPEND_ROOM: Script = {
  name: "append_room",
  source: HEAD + DEDUPE + `
local b = KEYS[1]
local max, window, stream = tonumber(ARGV[1]), ARGV[2], ARGV[4]
local out = {''}
local exists = redis.call('EXISTS', b .. ':i') == 1
local epoch = nil
local days = {}
for i = 6, #ARGV, 6 do
  local from, key, origin, day, ts, tail =
    ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  if not exists then
    out[#out + 1] = 'no_room'; out[#out + 1] = ''; out[#out + 1] = ''; out[#out + 1] = ''
  elseif not redis.call('ZSCORE', b .. ':m', from) then
    out[#out + 1] = 'not_member'; out[#out + 1] = ''; out[#out + 1] = ''; out[#out + 1] = ''
  else
    epoch = epoch or epoch_of(b, ARGV[3])
    local dedupe = key ~= '' and (b .. ':k:' .. from .. ':' .. key) or nil
    local first, json, at = nil, nil, nil
    if dedupe then first, json, at = seen(b, dedupe, epoch) end
    if first then
      out[#out + 1] = 'dup'; out[#out + 1] = first; out[#out + 1] = json; out[#out + 1] = at
    else
      local seq = redis.call('HINCRBY', b .. ':h', 'seq', 1)
      local message = '{"stream":' .. stream .. ',"seq":' .. seq .. tail
      redis.call('ZADD', b .. ':s', seq, message)
      redis.call(PUB, b, 'm' .. origin .. '\\n' .. message)
      redis.call('ZINCRBY', b .. ':t', 1, from)
      redis.call('ZINCRBY', b .. ':t:' .. day, 1, from)
      days[day] = true
      if dedupe then redis.call('SET', dedupe, epoch .. ':' .. seq .. ':' .. ts, 'PX', window) end
      out[#out + 1] = 'ok'; out[#out + 1] = seq; out[#out + 1] = ''; out[#out + 1] = ''
    end
  end
end
for day in pairs(days) do redis.call('EXPIRE', b .. ':t:' .. day, ARGV[5]) end
if epoch then
  redis.call('ZREMRANGEBYRANK', b .. ':s', 0, -max - 1)
  out[1] = epoch
end
return out
`,
};

/**
 * The sender's copies of private messages (`KEYS[1]` = the sender). ARGV: inboxMax,
 * privateMax, dedupe window ms, epoch candidate, stream name as JSON, then per message: to,
 * key, origin, ts, the JSON after the position. Stores each in the sender's stream and their
 * conversation with the receiver, moves the receiver to the top of the contacts, and keeps a
 * pending entry (position → "to\norigin\nJSON after the position") for the receiver's copy.
 * Returns the epoch, then per message five items: 'ok', the position, '', '', ''; or 'dup',
 * the first position, its stored JSON ('' when trimmed), ts and its pending entry ('' when
 * completed).
 */
export const APPEND_SENT: Script = {
  name: "append_sent",
  source: HEAD + DEDUPE + `
local b = KEYS[1]
local imax, pmax, window, stream = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[5]
local epoch = epoch_of(b, ARGV[4])
local out = {epoch}
for i = 6, #ARGV, 5 do
  local to, key, origin, ts, tail = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local dedupe = key ~= '' and (b .. ':i:' .. to .. ':' .. key) or nil
  local first, json, at = nil, nil, nil
  if dedupe then first, json, at = seen(b, dedupe, epoch) end
  if first then
    out[#out + 1] = 'dup'; out[#out + 1] = first; out[#out + 1] = json; out[#out + 1] = at
    out[#out + 1] = redis.call('HGET', b .. ':q', first) or ''
  else
    local seq = redis.call('HINCRBY', b .. ':h', 'seq', 1)
    local message = '{"stream":' .. stream .. ',"seq":' .. seq .. tail
    redis.call('ZADD', b .. ':s', seq, message)
    local conversation = b .. ':v:' .. to
    redis.call('ZADD', conversation, seq, message)
    redis.call('ZREMRANGEBYRANK', conversation, 0, -pmax - 1)
    redis.call('ZADD', b .. ':k', seq, to)
    redis.call('ZREMRANGEBYRANK', b .. ':k', 0, -201)
    redis.call('HSET', b .. ':q', seq, to .. '\\n' .. origin .. '\\n' .. tail)
    redis.call(PUB, b .. ':in', 'm' .. origin .. '\\n' .. message)
    if dedupe then redis.call('SET', dedupe, epoch .. ':' .. seq .. ':' .. ts, 'PX', window) end
    out[#out + 1] = 'ok'; out[#out + 1] = seq; out[#out + 1] = ''; out[#out + 1] = ''
    out[#out + 1] = ''
  end
end
redis.call('ZREMRANGEBYRANK', b .. ':s', 0, -imax - 1)
return out
`,
};

/**
 * The receiver's copies (`KEYS[1]` = the receiver). ARGV: inboxMax, privateMax, marker
 * lifetime ms, now, epoch candidate, stream name as JSON, then per copy: from, the sender's
 * position, origin, the JSON after the position. A copy is stored once per (sender, sender's
 * position): a marker remembers it for the marker lifetime. Returns per copy 1 when stored
 * now, 0 when it was stored before.
 */
export const APPEND_RECEIVED: Script = {
  name: "append_received",
  source: HEAD + `
local b = KEYS[1]
local imax, pmax, life, now, stream =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[6]
local out = {}
local epoch = nil
for i = 7, #ARGV, 4 do
  local from, sent, origin, tail = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local marker = from .. ':' .. sent
  if redis.call('ZSCORE', b .. ':x', marker) then
    out[#out + 1] = 0
  else
    epoch = epoch or epoch_of(b, ARGV[5])
    local seq = redis.call('HINCRBY', b .. ':h', 'seq', 1)
    local message = '{"stream":' .. stream .. ',"seq":' .. seq .. tail
    redis.call('ZADD', b .. ':s', seq, message)
    local conversation = b .. ':v:' .. from
    redis.call('ZADD', conversation, seq, message)
    redis.call('ZREMRANGEBYRANK', conversation, 0, -pmax - 1)
    redis.call('ZADD', b .. ':k', seq, from)
    redis.call('ZREMRANGEBYRANK', b .. ':k', 0, -201)
    redis.call('ZADD', b .. ':x', now, marker)
    redis.call(PUB, b .. ':in', 'm' .. origin .. '\\n' .. message)
    out[#out + 1] = 1
  end
end
redis.call('ZREMRANGEBYRANK', b .. ':s', 0, -imax - 1)
redis.call('ZREMRANGEBYSCORE', b .. ':x', '-inf', now - life)
return out
`,
};

/** The head of a stream, made when missing. ARGV: epoch candidate. Returns {seq, epoch}. */
export const HEAD_OF: Script = {
  name: "head",
  source: HEAD + `
local epoch = epoch_of(KEYS[1], ARGV[1])
return {position(KEYS[1]), epoch}
`,
};

/**
 * Messages after a position. ARGV: epoch candidate, after, limit. Returns {seq, epoch,
 * messages...}.
 */
export const READ: Script = {
  name: "read",
  source: HEAD + `
local b = KEYS[1]
local epoch = epoch_of(b, ARGV[1])
local out = {position(b), epoch}
local rows = redis.call('ZRANGEBYSCORE', b .. ':s', '(' .. ARGV[2], '+inf', 'LIMIT', 0, ARGV[3])
for _, row in ipairs(rows) do out[#out + 1] = row end
return out
`,
};

/**
 * A page of history from `KEYS[1]`'s stream or one of its conversations. ARGV: epoch
 * candidate, the zset's suffix (':s' or ':v:<peer>'), 'after' or 'before', the bound ('' for
 * none), how many rows. Returns {epoch, rows...}: ascending after a bound, else descending.
 */
export const PAGE: Script = {
  name: "page",
  source: HEAD + `
local b = KEYS[1]
local out = {epoch_of(b, ARGV[1])}
local key = b .. ARGV[2]
local rows
if ARGV[3] == 'after' then
  rows = redis.call('ZRANGEBYSCORE', key, '(' .. ARGV[4], '+inf', 'LIMIT', 0, ARGV[5])
else
  local top = ARGV[4] == '' and '+inf' or ('(' .. ARGV[4])
  rows = redis.call('ZREVRANGEBYSCORE', key, top, '-inf', 'LIMIT', 0, ARGV[5])
end
for _, row in ipairs(rows) do out[#out + 1] = row end
return out
`,
};

/** Advances acknowledged positions, never backwards. ARGV: pairs of stream and position. */
export const ACKNOWLEDGE: Script = {
  name: "acknowledge",
  source: `
local key = KEYS[1] .. ':c'
for i = 1, #ARGV, 2 do
  local upTo = tonumber(ARGV[i + 1])
  if upTo > tonumber(redis.call('HGET', key, ARGV[i]) or '0') then
    redis.call('HSET', key, ARGV[i], upTo)
  end
end
return 1
`,
};

/**
 * Adds overall activity (`KEYS[1]` = the global slot). ARGV: day, TTL s of a day's counts,
 * then pairs of name and count.
 */
export const ADD_ACTIVITY: Script = {
  name: "add_activity",
  source: `
local all, day = KEYS[1] .. ':act', KEYS[1] .. ':act:' .. ARGV[1]
for i = 3, #ARGV, 2 do
  redis.call('ZINCRBY', all, ARGV[i + 1], ARGV[i])
  redis.call('ZINCRBY', day, ARGV[i + 1], ARGV[i])
end
redis.call('EXPIRE', day, ARGV[2])
return 1
`,
};
