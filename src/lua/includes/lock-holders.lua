-- Reads a lock's live holders (hash: token -> '<expiry ms>:<fencing token>:<weight>'), dropping
-- lapsed or unreadable entries so planted data cannot wedge the lock. Returns the weight they
-- hold (not counting `token`), ms until the earliest of them lapses (-1: none), and `token`'s own
-- entry as {fencing token, ms left} when it is a live holder.
local function lock_holders(holders, now, token)
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
        mine = { tonumber(fence), expiry - now }
      else
        used = used + w
        if earliest < 0 or expiry - now < earliest then earliest = expiry - now end
      end
    end
  end
  return used, earliest, mine
end
