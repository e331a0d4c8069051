--[[
  Ends a framework session (logout, regenerate, revoke-all) and leaves a tombstone, so that a
  request still in flight cannot save it again (session-store-set.lua refuses a tombstoned id).
  The tombstone is written even when the session is missing: revoke-all ends ids whose save may
  still be on its way.
  KEYS[1] session: string, the serialized session
  KEYS[2] tombstone: string
  KEYS[3] deadline: string, the session's absolute deadline
  ARGV[1] least tombstone lifetime, ms (the longest request in flight)
  ARGV[2] tombstone lifetime when the session has no TTL, ms
  Reply: { previous text or false, 1 when the id was already tombstoned else 0 }
]]
local text = redis.call('GET', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
local least = tonumber(ARGV[1])
-- The tombstone lasts as long as the session would have, so no save within its lifetime revives it.
local life = least
if ttl == -1 then life = tonumber(ARGV[2]) elseif ttl > least then life = ttl end
local before = redis.call('PTTL', KEYS[2])
if before == -1 or before > life then life = before end
local was = 0
if before ~= -2 then was = 1 end
redis.call('DEL', KEYS[1], KEYS[3])
if life > 0 then redis.call('SET', KEYS[2], '1', 'PX', life) end
return { text, was }
