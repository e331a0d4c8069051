--[[
  Gives up the caller's hold or its place in the queue (a waiter that timed out or aborted), then
  hands the lock to the live waiters at the head of the queue while they fit, and wakes each one
  by name on the lock's channel.
  KEYS[1] holders: hash token -> '<expiry ms>:<fencing token>:<weight>', field '_f' the last fencing token
  KEYS[2] queue: zset waiting token -> arrival (server time in µs)
  KEYS[3] waiters: hash waiting token -> '<expiry ms>:<hold ttl ms>:<weight>'
  ARGV[1] the caller's token
  ARGV[2] capacity (1 for a mutex, the permits of a semaphore)
  ARGV[3] '1' for an unfair lock (wake the head waiter to retry, no handoff), else '0'
  ARGV[4] wake channel (in the lock's slot; a channel, not a key)
  ARGV[5] 'sharded' to SPUBLISH it, else PUBLISH
  ARGV[6] the token prefix of the caller's process: its waiters learn their grants from this reply, not a message
  Reply: {1 if the caller held the lock else 0, then per waiter handed the lock: token, fencing token, hold ttl ms}
]]
--- @include "lock-clock"
--- @include "lock-holders"
--- @include "lock-handoff"
--- @include "lock-publish"
local holders, queue, waiters = KEYS[1], KEYS[2], KEYS[3]
local token, capacity, unfair, channel = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1', ARGV[4]
local publish = ARGV[5] == 'sharded' and 'SPUBLISH' or 'PUBLISH'
local here = ARGV[6]
local now, nowUs = lock_clock()

local state = lock_holders(holders, now, token)
local reply = { state.mine and 1 or 0 }
if state.mine then
  redis.call('HDEL', holders, token)
else
  redis.call('ZREM', queue, token)
  redis.call('HDEL', waiters, token)
end

if unfair then
  -- No handoff: the first live waiter retries, and may lose to a newcomer. Waiters whose place
  -- lapsed are dropped on the way, so a dead head does not swallow every wake-up (finding 22).
  if state.used < capacity then
    for _ = 1, 100 do
      local head = redis.call('ZRANGE', queue, 0, 0)[1]
      if not head then break end
      local expiry = tonumber(string.match(redis.call('HGET', waiters, head) or '', '^(%d+):'))
      if expiry and expiry > now then
        lock_publish(publish, channel, head .. ':0:0')
        break
      end
      redis.call('ZREM', queue, head)
      redis.call('HDEL', waiters, head)
    end
  end
  return reply
end
local grants = lock_handoff(holders, queue, waiters, state, capacity, now, nowUs)
for _, g in ipairs(grants) do
  if string.sub(g[1], 1, #here) ~= here then lock_publish(publish, channel, table.concat(g, ':')) end
  reply[#reply + 1] = g[1]
  reply[#reply + 1] = tonumber(g[2])
  reply[#reply + 1] = g[3]
end
return reply
