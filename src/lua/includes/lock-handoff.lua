--- @include "lock-grant"
--- @include "lock-holders"
-- Hands the lock to the live waiters at the head of the queue (zset: token -> arrival µs; hash
-- waiters: token -> '<expiry ms>:<hold ttl ms>:<weight>'), in order, while they fit in `capacity`
-- next to `state.used`; waiters whose place lapsed are dropped on the way. Returns the grants as a
-- list of {token, fencing token string, ttl}.
local function lock_handoff(holders, queue, waiters, state, capacity, now, nowUs)
  local grants = {}
  for _ = 1, 1000 do
    if not lock_fits(state, 1, capacity) then break end
    local popped = redis.call('ZPOPMIN', queue)
    local head = popped[1]
    if not head then break end
    local info = redis.call('HGET', waiters, head)
    local expiry, ttl, w
    if info then expiry, ttl, w = string.match(info, '^(%d+):(%d+):(%d+)$') end
    expiry, ttl, w = tonumber(expiry), tonumber(ttl), tonumber(w)
    if w and w > capacity then w = capacity end
    -- A hold ttl past what PEXPIRE takes (planted) would fail the script after the grant was
    -- written, and a release that handed over would tell its caller it had not released.
    if not expiry or expiry <= now or ttl < 1 or ttl > 2147483647 then
      redis.call('HDEL', waiters, head)
    elseif not lock_fits(state, w, capacity) then
      -- Does not fit yet: back at its place (its exact arrival score), and it stays first.
      redis.call('ZADD', queue, popped[2], head)
      break
    else
      redis.call('HDEL', waiters, head)
      grants[#grants + 1] = { head, lock_grant(holders, state, head, ttl, w, now, nowUs), ttl }
    end
  end
  return grants
end
