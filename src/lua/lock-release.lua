--[[
  Gives up the caller's hold or its place in the queue (a waiter that timed out or aborted), then
  hands the lock to the live waiters at the head of the queue while they fit, and wakes each one
  by name on the lock's channel.
  KEYS[1] holders (hash: token -> '<expiry ms>:<fencing token>:<weight>', field '_f' the last fencing token)
  KEYS[2] queue (zset: waiting token -> arrival, server time in µs)
  KEYS[3] waiters (hash: waiting token -> '<expiry ms>:<hold ttl ms>:<weight>')
  ARGV[1] the caller's token
  ARGV[2] capacity (1 for a mutex, the permits of a semaphore)
  ARGV[3] '1' for an unfair lock (wake the head waiter to retry, no handoff), else '0'
  ARGV[4] wake channel (in the lock's slot)
  ARGV[5] 'sharded' to SPUBLISH it, else PUBLISH
  ARGV[6] the token prefix of the caller's process: its waiters learn their grants from this reply, not a message
  Reply: {1 if the caller held the lock else 0, then per waiter handed the lock: token, fencing token, hold ttl ms}
]]
local holders, queue, waiters = KEYS[1], KEYS[2], KEYS[3]
local token, capacity, unfair, channel = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1', ARGV[4]
local publish = ARGV[5] == 'sharded' and 'SPUBLISH' or 'PUBLISH'
local here = ARGV[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])

local released = 0
local mine = redis.call('HGET', holders, token)
if mine then
  local expiry = tonumber(string.match(mine, '^(%d+):'))
  if expiry and expiry > now then released = 1 end
  redis.call('HDEL', holders, token)
else
  redis.call('ZREM', queue, token)
  redis.call('HDEL', waiters, token)
end

-- Live holders: lapsed (or unreadable) entries are dropped, so planted data cannot wedge the lock.
local used = 0
local all = redis.call('HGETALL', holders)
for i = 1, #all, 2 do
  if all[i] ~= '_f' then
    local expiry, w = string.match(all[i + 1], '^(%d+):%d+:(%d+)$')
    expiry, w = tonumber(expiry), tonumber(w)
    if not expiry or expiry <= now then
      redis.call('HDEL', holders, all[i])
    else
      used = used + w
    end
  end
end

local reply = { released }
for _ = 1, 1000 do
  if used >= capacity then break end
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
  elseif unfair then
    -- No handoff: the head waiter retries and may lose to a newcomer.
    redis.call(publish, channel, head .. ':0:0')
    break
  elseif used + w > capacity then
    break
  else
    redis.call('ZREM', queue, head)
    redis.call('HDEL', waiters, head)
    -- Fencing tokens only grow, even when the counter is lost with a restart without
    -- persistence: each is at least the server time in µs.
    local fence = math.max((tonumber(redis.call('HGET', holders, '_f')) or 0) + 1, nowUs)
    local f = string.format('%.0f', fence)
    redis.call('HSET', holders, head, (now + holdTtl) .. ':' .. f .. ':' .. w, '_f', f)
    if redis.call('PTTL', holders) < holdTtl then redis.call('PEXPIRE', holders, holdTtl) end
    used = used + w
    if string.sub(head, 1, #here) ~= here then redis.call(publish, channel, head .. ':' .. f .. ':' .. holdTtl) end
    reply[#reply + 1] = head
    reply[#reply + 1] = fence
    reply[#reply + 1] = holdTtl
  end
end
return reply
