--- @include "lock-holders"
--- @include "lock-grant"
--- @include "lock-handoff"
-- One attempt of a waiter `a` = {token, ttl, weight, placeMs, unfair, handoffTtl} on a lock whose
-- holders `state` (from lock_holders) has already read: takes a free lock when nobody waits (or
-- whatever the queue, unfair), hands it first to the live waiters at the head of the queue, and
-- otherwise queues the caller with a place that lapses placeMs after this attempt (placeMs 0: do
-- not queue). `mine` is the caller's live hold ({fence, ms left}) when it already holds the lock
-- (an earlier handoff). Grants made to other waiters go to `handed(grant)`, grant = {token, fencing
-- token string, ttl}. Returns {1, fencing token, ms the hold has left} when the caller holds the
-- lock, else {0, ms until the earliest hold lapses (-1 none), 0 when queued else -1}.
local function lock_attempt(holders, queue, waiters, state, a, capacity, now, nowUs, mine, handed)
  if mine then return { 1, mine[1], mine[2] } end
  local token, ttl, weight, placeMs = a[1], a[2], a[3], a[4]
  if a[5] and lock_fits(state, weight, capacity) then
    redis.call('ZREM', queue, token)
    redis.call('HDEL', waiters, token)
    return { 1, tonumber(lock_grant(holders, state, token, ttl, weight, now, nowUs)), ttl }
  end
  -- A lock without room for anyone has nothing to hand over and cannot take the
  -- caller: the queue is not even looked at.
  if not a[5] and lock_fits(state, 1, capacity) then
    local queued = redis.call('EXISTS', queue) == 1
    if queued then
      local fence, granted
      for _, g in ipairs(lock_handoff(holders, queue, waiters, state, capacity, now, nowUs)) do
        if g[1] == token then
          fence, granted = g[2], g[3]
        else
          handed(g)
        end
      end
      -- The ttl the handoff wrote (a place's life for a waiter), not the caller's full ttl: the
      -- caller must renew or extend it before then.
      if fence then return { 1, tonumber(fence), granted } end
      -- The handoff may have emptied the queue (lapsed places); only worth asking when the caller fits.
      if lock_fits(state, weight, capacity) then queued = redis.call('EXISTS', queue) == 1 end
    end
    if not queued and lock_fits(state, weight, capacity) then
      return { 1, tonumber(lock_grant(holders, state, token, ttl, weight, now, nowUs)), ttl }
    end
  end

  if placeMs <= 0 then return { 0, state.earliest, -1 } end
  redis.call('ZADD', queue, 'NX', nowUs, token)
  redis.call('HSET', waiters, token, table.concat({ now + placeMs, a[6] or ttl, weight }, ':'))
  -- Both keys live at least half a place's life (a new queue has no TTL: PTTL -1), and every
  -- waiter's poll (a third of a place's life apart at most) renews them.
  if redis.call('PTTL', queue) < placeMs / 2 then
    redis.call('PEXPIRE', queue, placeMs)
    redis.call('PEXPIRE', waiters, placeMs)
  end
  return { 0, state.earliest, 0 }
end
