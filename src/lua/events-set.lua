--[[
  Writes a key with a TTL and its deadline entry in one step, so an expiry can never be missed. An
  earlier expiry of the key that no sweep delivered yet is kept as an entry of its own.
  KEYS[1] the user's key
  KEYS[2] deadline index (zset: member = key, score = deadline in ms, server clock)
  KEYS[3] kept values (hash: key -> 'c' .. encoded value, delivered with the event)
  KEYS[4] original deadlines of claimed entries (Cluster): a new deadline must not inherit an old claim's
  KEYS[5] keys adopted by track, re-read for TTL changes made outside redkit (a TTL set here is redkit's)
  ARGV[1] value to store
  ARGV[2] ttl in ms
  ARGV[3] '1' to keep a copy of the value for the expiry event, '0' not to
  ARGV[4] wake channel, published when this deadline becomes the earliest one ('' on Cluster, where the
          writer touches the slot directory instead: a PUBLISH there reaches every node)
  Reply: { the deadline (epoch ms), the deadline again when it is now the earliest of the index (Cluster:
         the slot directory must hear of it) else 0 }
]]
--- @include "server-time"
--- @include "expiry-lapsed"
--- @include "check-types"
-- Before the user's key is written: a machinery key of another type met later would leave the key
-- written without its deadline, or the other way round, and the caller told it failed.
local refused = check_types({ KEYS[2], 'zset', KEYS[3], 'hash', KEYS[4], 'hash', KEYS[5], 'zset' })
if refused then return refused end
local now = server_time_ms()
local deadline = now + tonumber(ARGV[2])
keep_lapsed(KEYS[2], KEYS[3], KEYS[4], KEYS[1], now)
-- PXAT: the key expires exactly at its deadline (see events-expire.lua).
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', deadline)
redis.call('ZADD', KEYS[2], deadline, KEYS[1])
redis.call('HDEL', KEYS[4], KEYS[1])
redis.call('ZREM', KEYS[5], KEYS[1])
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[3], KEYS[1], 'c' .. ARGV[1])
else
  redis.call('HDEL', KEYS[3], KEYS[1])
end
local head = redis.call('ZRANGE', KEYS[2], 0, 0)
if head[1] ~= KEYS[1] then return { deadline, 0 } end
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], deadline) end
return { deadline, deadline }
