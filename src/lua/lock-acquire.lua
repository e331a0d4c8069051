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
--- @include "lock-attempt"
--- @include "lock-publish"
local holders, queue, waiters = KEYS[1], KEYS[2], KEYS[3]
local token, channel = ARGV[1], ARGV[7]
local publish = ARGV[8] == 'sharded' and 'SPUBLISH' or 'PUBLISH'
local now, nowUs = lock_clock()

local state = lock_holders(holders, now, token)
local caller = { token, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5]), ARGV[6] == '1', tonumber(ARGV[9]) }
return lock_attempt(holders, queue, waiters, state, caller, tonumber(ARGV[4]), now, nowUs, state.mine, function(g)
  lock_publish(publish, channel, table.concat(g, ':'))
end)
