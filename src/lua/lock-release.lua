--[[
  Gives up the caller's hold or its place in the queue (a waiter that timed out or aborted), then
  hands the lock to the live waiters at the head of the queue while they fit, and wakes each one
  by name on the lock's channel. Attempts of waiters in the caller's process that were waiting for
  this call ride along: each runs first, as lock-acquire would have run it (one script for all).
  KEYS[1] holders: hash token -> '<expiry ms>:<fencing token>:<weight>', field '_f' the last fencing token
  KEYS[2] queue: zset waiting token -> arrival (server time in µs)
  KEYS[3] waiters: hash waiting token -> '<expiry ms>:<hold ttl ms>:<weight>'
  ARGV[1] the caller's token
  ARGV[2] capacity (1 for a mutex, the permits of a semaphore)
  ARGV[3] '1' for an unfair lock (wake the head waiter to retry, no handoff), else '0'
  ARGV[4] wake channel (in the lock's slot; a channel, not a key)
  ARGV[5] 'sharded' to SPUBLISH it, else PUBLISH
  ARGV[6] the token prefix of the caller's process: its waiters learn their grants from this reply, not a message
  ARGV[7...] riders: attempts to run first, 6 values each: token, hold ttl ms, weight, place ms, '1' if unfair else '0', handoff ttl ms (lock-acquire's ARGV 1, 2, 3, 5, 6, 9)
  Reply: {1 if the caller held the lock else 0, then per rider its lock-acquire reply (3 values),
    then per waiter of the caller's process handed the lock: token, fencing token, hold ttl ms}
]]
--- @include "lock-clock"
--- @include "lock-holders"
--- @include "lock-attempt"
--- @include "lock-publish"
local holders, queue, waiters = KEYS[1], KEYS[2], KEYS[3]
local token, capacity, unfair, channel = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1', ARGV[4]
local publish = ARGV[5] == 'sharded' and 'SPUBLISH' or 'PUBLISH'
local here = ARGV[6]
local now, nowUs = lock_clock()

local riders, watched = {}, nil
for i = 7, #ARGV - 5, 6 do
  riders[#riders + 1] = { ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), ARGV[i + 4] == '1', tonumber(ARGV[i + 5]) }
  watched = watched or {}
  watched[ARGV[i]] = true
end

local state = lock_holders(holders, now, token, watched)
local reply = { state.mine and 1 or 0 }
local grants = {}
local function handed(g)
  if string.sub(g[1], 1, #here) == here then
    grants[#grants + 1] = g
  else
    lock_publish(publish, channel, table.concat(g, ':'))
  end
end
-- The riders come first, while the caller still holds: its weight counts until it is given up.
if state.mine then
  state.used = state.used + state.mine[3]
  state.count = state.count + 1
end
for _, a in ipairs(riders) do
  local r = lock_attempt(holders, queue, waiters, state, a, capacity, now, nowUs, state.seen[a[1]], handed)
  reply[#reply + 1], reply[#reply + 2], reply[#reply + 3] = r[1], r[2], r[3]
end

if state.mine then
  redis.call('HDEL', holders, token)
  state.used = state.used - state.mine[3]
  state.count = state.count - 1
else
  redis.call('ZREM', queue, token)
  redis.call('HDEL', waiters, token)
end

if unfair then
  -- No handoff: the first live waiter retries, and may lose to a newcomer. Waiters whose place
  -- lapsed are dropped on the way, so a dead head does not swallow every wake-up (finding 22).
  if lock_fits(state, 1, capacity) then
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
else
  for _, g in ipairs(lock_handoff(holders, queue, waiters, state, capacity, now, nowUs)) do handed(g) end
end
for _, g in ipairs(grants) do
  reply[#reply + 1] = g[1]
  reply[#reply + 1] = tonumber(g[2])
  reply[#reply + 1] = g[3]
end
return reply
