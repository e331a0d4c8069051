--[[
  One attempt to take a hold on a fair lock (mutex, semaphore permit, read or write hold), and
  the queue of waiters behind it. Holders and waiters carry their own expiry (server time), so a
  dead holder's hold and a dead waiter's place lapse by themselves; when the lock is free, the
  live waiters at the head of the queue get it first (first in, first out), before the caller.
  KEYS[1] holders: hash token -> '<expiry ms>:<fencing token>:<weight>', field '_f' the last fencing token
  KEYS[2] queue: zset waiting token -> arrival (server time in µs)
  KEYS[3] waiters: hash waiting token -> '<expiry ms>:<hold ttl ms>:<weight>'
  ARGV[1] the caller's token
  ARGV[2] hold ttl, ms
  ARGV[3] weight of the hold (1, or the capacity for a write hold)
  ARGV[4] capacity (1 for a mutex, the permits of a semaphore)
  ARGV[5] how long the caller's place in the queue lives without a new attempt, ms (0: do not queue)
  ARGV[6] '1' to take a free lock even when others wait (unfair: no handoff), else '0'
  ARGV[7] wake channel (in the lock's slot; a channel, not a key)
  ARGV[8] 'sharded' to SPUBLISH it, else PUBLISH
  Reply: {1, fencing token, ms the hold has left} when the caller holds the lock (now or by an
    earlier handoff); {0, ms until the earliest hold lapses (-1 none), place in the queue (0-based, -1 not queued)}
]]
--- @include "lock-clock"
--- @include "lock-holders"
--- @include "lock-handoff"
local holders, queue, waiters = KEYS[1], KEYS[2], KEYS[3]
local token, ttl, weight, capacity = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local placeMs, unfair, channel = tonumber(ARGV[5]), ARGV[6] == '1', ARGV[7]
local publish = ARGV[8] == 'sharded' and 'SPUBLISH' or 'PUBLISH'
local now, nowUs = lock_clock()

local used, earliest, mine = lock_holders(holders, now, token)
if mine then return { 1, mine[1], mine[2] } end

local function take()
  redis.call('ZREM', queue, token)
  redis.call('HDEL', waiters, token)
  return { 1, tonumber(lock_grant(holders, token, ttl, weight, now, nowUs)), ttl }
end

if unfair then
  if used + weight <= capacity then return take() end
else
  local fence
  used = lock_handoff(holders, queue, waiters, used, capacity, now, nowUs, function(who, f, holdTtl)
    if who == token then
      fence = f
    else
      redis.call(publish, channel, who .. ':' .. f .. ':' .. holdTtl)
    end
  end)
  if fence then return { 1, tonumber(fence), ttl } end
  if used + weight <= capacity and redis.call('ZCARD', queue) == 0 then return take() end
end

if placeMs <= 0 then return { 0, earliest, -1 } end
redis.call('ZADD', queue, 'NX', nowUs, token)
redis.call('HSET', waiters, token, (now + placeMs) .. ':' .. ttl .. ':' .. weight)
if redis.call('PTTL', queue) < placeMs then redis.call('PEXPIRE', queue, placeMs) end
if redis.call('PTTL', waiters) < placeMs then redis.call('PEXPIRE', waiters, placeMs) end
return { 0, earliest, redis.call('ZRANK', queue, token) }
