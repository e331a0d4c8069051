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
  ARGV[9] ttl of a hold handed over to the caller while it waits, ms (short with a watchdog, so a waiter that died with a live place stalls the lock briefly)
  Reply: {1, fencing token, ms the hold has left} when the caller holds the lock (now or by an
    earlier handoff); {0, ms until the earliest hold lapses (-1 none), 0 when queued else -1}
]]
--- @include "lock-clock"
--- @include "lock-holders"
--- @include "lock-handoff"
--- @include "lock-publish"
local holders, queue, waiters = KEYS[1], KEYS[2], KEYS[3]
local token, ttl, weight, capacity = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local placeMs, unfair, channel = tonumber(ARGV[5]), ARGV[6] == '1', ARGV[7]
local publish = ARGV[8] == 'sharded' and 'SPUBLISH' or 'PUBLISH'
local now, nowUs = lock_clock()

local state = lock_holders(holders, now, token)
if state.mine then return { 1, state.mine[1], state.mine[2] } end

if unfair and state.used + weight <= capacity then
  redis.call('ZREM', queue, token)
  redis.call('HDEL', waiters, token)
  return { 1, tonumber(lock_grant(holders, state, token, ttl, weight, now, nowUs)), ttl }
end
-- A lock without room for anyone (used >= capacity) has nothing to hand over and cannot take the
-- caller: the queue is not even looked at.
if not unfair and state.used < capacity then
  local queued = redis.call('EXISTS', queue) == 1
  if queued then
    local fence, granted
    for _, g in ipairs(lock_handoff(holders, queue, waiters, state, capacity, now, nowUs)) do
      if g[1] == token then
        fence, granted = g[2], g[3]
      else
        lock_publish(publish, channel, table.concat(g, ':'))
      end
    end
    -- The ttl the handoff wrote (a place's life for a waiter), not the caller's full ttl: the
    -- caller must renew or extend it before then.
    if fence then return { 1, tonumber(fence), granted } end
    -- The handoff may have emptied the queue (lapsed places); only worth asking when the caller fits.
    if state.used + weight <= capacity then queued = redis.call('EXISTS', queue) == 1 end
  end
  if not queued and state.used + weight <= capacity then
    return { 1, tonumber(lock_grant(holders, state, token, ttl, weight, now, nowUs)), ttl }
  end
end

if placeMs <= 0 then return { 0, state.earliest, -1 } end
redis.call('ZADD', queue, 'NX', nowUs, token)
redis.call('HSET', waiters, token, table.concat({ now + placeMs, tonumber(ARGV[9]) or ttl, weight }, ':'))
-- Both keys live at least half a place's life (a new queue has no TTL: PTTL -1), and every
-- waiter's poll (a third of a place's life apart at most) renews them.
if redis.call('PTTL', queue) < placeMs / 2 then
  redis.call('PEXPIRE', queue, placeMs)
  redis.call('PEXPIRE', waiters, placeMs)
end
return { 0, state.earliest, 0 }
