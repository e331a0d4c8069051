--[[
  One attempt to take a hold on a fair lock (mutex, semaphore permit, read or write hold), and
  the queue of waiters behind it. Holders and waiters carry their own expiry (server time), so a
  dead holder's hold and a dead waiter's place lapse by themselves; when the lock is free, the
  live waiters at the head of the queue get it first (first in, first out), before the caller.
  KEYS[1] holders (hash: token -> '<expiry ms>:<fencing token>:<weight>', field '_f' the last fencing token)
  KEYS[2] queue (zset: waiting token -> arrival, server time in µs)
  KEYS[3] waiters (hash: waiting token -> '<expiry ms>:<hold ttl ms>:<weight>')
  ARGV[1] the caller's token
  ARGV[2] hold ttl, ms
  ARGV[3] weight of the hold (1, or the capacity for a write hold)
  ARGV[4] capacity (1 for a mutex, the permits of a semaphore)
  ARGV[5] how long the caller's place in the queue lives without a new attempt, ms (0: do not queue)
  ARGV[6] '1' to take a free lock even when others wait (unfair: no handoff), else '0'
  ARGV[7] wake channel (in the lock's slot)
  ARGV[8] 'sharded' to SPUBLISH it, else PUBLISH
  Reply: {1, fencing token, hold ttl ms} when the caller holds the lock (now or by an earlier
    handoff); {0, ms until the earliest hold lapses (-1 none), place in the queue (0-based, -1 not queued)}
]]
local holders, queue, waiters = KEYS[1], KEYS[2], KEYS[3]
local token, ttl, weight, capacity = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local placeMs, unfair, channel = tonumber(ARGV[5]), ARGV[6] == '1', ARGV[7]
local publish = ARGV[8] == 'sharded' and 'SPUBLISH' or 'PUBLISH'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])

-- Live holders: lapsed (or unreadable) entries are dropped, so planted data cannot wedge the lock.
local used, earliest, mine = 0, -1, nil
local all = redis.call('HGETALL', holders)
for i = 1, #all, 2 do
  local field = all[i]
  if field ~= '_f' then
    local expiry, fence, w = string.match(all[i + 1], '^(%d+):(%d+):(%d+)$')
    expiry, w = tonumber(expiry), tonumber(w)
    if not expiry or expiry <= now then
      redis.call('HDEL', holders, field)
    elseif field == token then
      mine = { fence, expiry - now }
    else
      used = used + w
      if earliest < 0 or expiry - now < earliest then earliest = expiry - now end
    end
  end
end
if mine then return { 1, tonumber(mine[1]), mine[2] } end

-- Fencing tokens only grow, even when the counter is lost with a restart without persistence:
-- each is at least the server time in µs.
local function grant(who, holdTtl, w)
  local last = tonumber(redis.call('HGET', holders, '_f')) or 0
  local fence = math.max(last + 1, nowUs)
  local f = string.format('%.0f', fence)
  redis.call('HSET', holders, who, (now + holdTtl) .. ':' .. f .. ':' .. w, '_f', f)
  if redis.call('PTTL', holders) < holdTtl then redis.call('PEXPIRE', holders, holdTtl) end
  used = used + w
  return f
end

if unfair then
  if used + weight <= capacity then
    redis.call('ZREM', queue, token)
    redis.call('HDEL', waiters, token)
    return { 1, tonumber(grant(token, ttl, weight)), ttl }
  end
end

-- Hand the lock to the live waiters at the head, in order, while they fit.
local granted = false
for _ = 1, (unfair and 0 or 1000) do
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  if not head then break end
  local info = redis.call('HGET', waiters, head)
  local expiry, holdTtl, w
  if info then expiry, holdTtl, w = string.match(info, '^(%d+):(%d+):(%d+)$') end
  expiry, holdTtl, w = tonumber(expiry), tonumber(holdTtl), tonumber(w)
  if w and w > capacity then w = capacity end
  if not expiry or expiry <= now or holdTtl < 1 then
    redis.call('ZREM', queue, head)
    redis.call('HDEL', waiters, head)
  elseif used + w > capacity then
    break
  else
    redis.call('ZREM', queue, head)
    redis.call('HDEL', waiters, head)
    local f = grant(head, holdTtl, w)
    if head == token then
      granted = f
    else
      redis.call(publish, channel, head .. ':' .. f .. ':' .. holdTtl)
    end
  end
end
if granted then return { 1, tonumber(granted), ttl } end

if not unfair and used + weight <= capacity and redis.call('ZCARD', queue) == 0 then
  redis.call('ZREM', queue, token)
  redis.call('HDEL', waiters, token)
  return { 1, tonumber(grant(token, ttl, weight)), ttl }
end
if placeMs <= 0 then return { 0, earliest, -1 } end
redis.call('ZADD', queue, 'NX', nowUs, token)
redis.call('HSET', waiters, token, (now + placeMs) .. ':' .. ttl .. ':' .. weight)
if redis.call('PTTL', queue) < placeMs then redis.call('PEXPIRE', queue, placeMs) end
if redis.call('PTTL', waiters) < placeMs then redis.call('PEXPIRE', waiters, placeMs) end
return { 0, earliest, redis.call('ZRANK', queue, token) }
