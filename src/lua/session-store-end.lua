--[[
  Ends a framework session (logout, regenerate, revoke-all) and leaves a tombstone in its place: a
  hash, so a request still in flight whose `SET ... GET` reaches it fails as the wrong type and
  writes nothing. The tombstone is written even when the session is missing: revoke-all ends ids
  whose save may still be on its way.
  KEYS[1] session: string, the serialized session; a hash while the id is destroyed (tombstone)
  KEYS[2] deadline: string, the session's absolute deadline
  ARGV[1] least tombstone lifetime, ms (the longest request in flight)
  ARGV[2] tombstone lifetime when the session has no TTL, ms
  Reply: { previous text or false, 1 when the id was already tombstoned else 0 }
]]
local kind = redis.call('TYPE', KEYS[1]).ok
local text = false
local was = 0
if kind == 'string' then text = redis.call('GET', KEYS[1]) elseif kind ~= 'none' then was = 1 end
local ttl = redis.call('PTTL', KEYS[1])
local least = tonumber(ARGV[1])
-- The tombstone lasts as long as the session would have, so no save within its lifetime revives it.
local life = least
if ttl == -1 then life = tonumber(ARGV[2]) elseif ttl > least then life = ttl end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'destroyed', '1')
redis.call('PEXPIRE', KEYS[1], life)
return { text, was }
