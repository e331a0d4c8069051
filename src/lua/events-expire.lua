--[[
  Gives an existing key a TTL (ARGV[1] > 0) or adopts the TTL it already has (ARGV[1] = 0, for keys
  set elsewhere), and records its deadline. An earlier expiry of the key that no sweep delivered yet
  is kept as an entry of its own.
  KEYS[1] the user's key
  KEYS[2] deadline index (zset: member = key, score = deadline in ms)
  KEYS[3] kept values (hash: key -> 'r' .. raw string value, delivered with the event)
  KEYS[4] original deadlines of claimed entries (Cluster): a new deadline must not inherit an old claim's
  KEYS[5] keys adopted by track (zset: key -> when to re-read its TTL), see the expiry-track include
  ARGV[1] ttl in ms, or 0 to adopt the key's current TTL
  ARGV[2] '1' to keep the key's current string value for the expiry event, 'c' .. encoded to keep
          that value instead (for keys that are not strings, e.g. a session hash), '0' to keep nothing
  ARGV[3] wake channel, published when this deadline becomes the earliest one ('' on Cluster)
  Reply: { the deadline (epoch ms), or -2 when the key does not exist, -1 when ARGV[1] is 0 and the
         key has no TTL; the time the slot directory must hear of (Cluster), or 0 when it knows an earlier one }
]]
--- @include "server-time"
--- @include "expiry-lapsed"
--- @include "check-types"
--- @include "expiry-track"
-- The key's own expiry time is the deadline, to the millisecond (PEXPIREAT / PEXPIRETIME), so a
-- sweep never mistakes clock skew inside a script for a TTL changed elsewhere.
-- Before the TTL is set: a machinery key of another type met later would leave it set without its deadline.
local refused = check_types({ KEYS[2], 'zset', KEYS[3], 'hash', KEYS[4], 'hash', KEYS[5], 'zset' })
if refused then return refused end
local now = server_time_ms()
local deadline
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then return { -2, 0 } end
  deadline = now + ttl
else
  deadline = redis.call('PEXPIRETIME', KEYS[1])
  if deadline < 0 then return { deadline, 0 } end
end
-- The key exists, so only an expiry a sweeper claimed (the key was recreated since) is kept.
keep_lapsed(KEYS[2], KEYS[3], KEYS[4], KEYS[1], now)
if ttl > 0 then redis.call('PEXPIREAT', KEYS[1], deadline) end
redis.call('ZADD', KEYS[2], deadline, KEYS[1])
redis.call('HDEL', KEYS[4], KEYS[1])
local check = 0
if ttl > 0 then
  redis.call('ZREM', KEYS[5], KEYS[1])
else
  check = now + TRACK_CHECK_MS
  redis.call('ZADD', KEYS[5], check, KEYS[1])
end
local kept = false
if ARGV[2] == '1' and redis.call('TYPE', KEYS[1]).ok == 'string' then
  redis.call('HSET', KEYS[3], KEYS[1], 'r' .. redis.call('GET', KEYS[1]))
  kept = true
elseif string.sub(ARGV[2], 1, 1) == 'c' then
  redis.call('HSET', KEYS[3], KEYS[1], ARGV[2])
  kept = true
end
if not kept then redis.call('HDEL', KEYS[3], KEYS[1]) end
local head = redis.call('ZRANGE', KEYS[2], 0, 0)
if head[1] ~= KEYS[1] then
  -- A tracked key is re-read within TRACK_CHECK_MS: the directory must send a sweeper by then.
  if check > 0 and check < deadline then return { deadline, check } end
  return { deadline, 0 }
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], deadline) end
if check > 0 and check < deadline then return { deadline, check } end
return { deadline, deadline }
