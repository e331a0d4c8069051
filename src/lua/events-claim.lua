--[[
  Cluster, step 1 of 3: claims the due deadlines of one slot for a lease, because the event stream
  lives in another slot and cannot be written in the same script. A claimed entry stays in the
  index with score = lease end; if the sweeper dies before step 3, it becomes due again and is
  re-delivered with the same event id (at least once). A key written again meanwhile keeps the
  claimed expiry as an entry of its own (see the expiry-lapsed include).
  KEYS[1] deadline index of the slot (zset: member = key or key \0 deadline; score = deadline, or lease end once claimed)
  KEYS[2] kept values of the slot (hash)
  KEYS[3] original deadlines of claimed entries (hash: member -> deadline)
  KEYS[4] keys adopted by track, re-read for TTL changes made outside redkit (expiry-track include)
  ARGV[1] most entries to claim
  ARGV[2] lease in ms
  Reply: { lease end, server time in ms, member1, deadline1, value1 or false, member2, ... }
]]
--- @include "server-time"
--- @include "expiry-lapsed"
--- @include "expiry-track"
local now = server_time_ms()
check_tracked(KEYS[1], KEYS[2], KEYS[4], KEYS[3], now)
local leaseEnd = now + tonumber(ARGV[2])
local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[1]), 'WITHSCORES')
local out = { leaseEnd, now }
for i = 1, #due, 2 do
  local member = due[i]
  local key, kept_deadline = member_key(member)
  local deadline = redis.call('HGET', KEYS[3], member) or kept_deadline or due[i + 1]
  local ttl = kept_deadline and -2 or redis.call('PTTL', key)
  if ttl == -2 then
    redis.call('ZADD', KEYS[1], leaseEnd, member)
    redis.call('HSET', KEYS[3], member, deadline)
    redis.call('ZREM', KEYS[4], member)
    out[#out + 1] = member
    out[#out + 1] = deadline
    out[#out + 1] = redis.call('HGET', KEYS[2], member)
  elseif ttl >= 0 then
    -- Still there: its TTL was moved outside redkit (follow it), or the script's clock is a hair
    -- behind TIME at this very deadline (keep it; the next sweep sees the key gone).
    local at = redis.call('PEXPIRETIME', key)
    if at > tonumber(deadline) then
      redis.call('ZADD', KEYS[1], at, key)
      redis.call('HDEL', KEYS[3], key)
    end
  else
    redis.call('ZREM', KEYS[1], key)
    redis.call('HDEL', KEYS[2], key)
    redis.call('HDEL', KEYS[3], key)
    redis.call('ZREM', KEYS[4], key)
  end
end
return out
