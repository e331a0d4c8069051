--- @include "lock-grant"
-- Hands the lock to the live waiters at the head of the queue (zset: token -> arrival µs; hash
-- waiters: token -> '<expiry ms>:<hold ttl ms>:<weight>'), in order, while they fit in `capacity`
-- next to the `used` weight; waiters whose place lapsed are dropped on the way. Calls
-- `granted(token, fencing token string, ttl)` for each. Returns the weight then in use.
local function lock_handoff(holders, queue, waiters, used, capacity, now, nowUs, granted)
  for _ = 1, 1000 do
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    if not head then break end
    local info = redis.call('HGET', waiters, head)
    local expiry, ttl, w
    if info then expiry, ttl, w = string.match(info, '^(%d+):(%d+):(%d+)$') end
    expiry, ttl, w = tonumber(expiry), tonumber(ttl), tonumber(w)
    if w and w > capacity then w = capacity end
    if not expiry or expiry <= now or ttl < 1 then
      redis.call('ZREM', queue, head)
      redis.call('HDEL', waiters, head)
    elseif used + w > capacity then
      break
    else
      redis.call('ZREM', queue, head)
      redis.call('HDEL', waiters, head)
      granted(head, lock_grant(holders, head, ttl, w, now, nowUs), ttl)
      used = used + w
    end
  end
  return used
end
