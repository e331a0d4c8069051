-- Reads a lock's live holders (hash: token -> '<expiry ms>:<fencing token>:<weight>', '_f' the
-- last fencing token), dropping lapsed or unreadable entries so planted data cannot wedge the
-- lock. Returns a table: used (the weight held, not counting `token`), earliest (ms until the
-- first of those lapses, -1: none), longest (ms until the last one lapses, 0: none), last (the
-- last fencing token), mine ({fencing token, ms left} when `token` is a live holder).
local function lock_holders(holders, now, token)
  local state = { used = 0, earliest = -1, longest = 0, last = 0, mine = nil }
  local all = redis.call('HGETALL', holders)
  for i = 1, #all, 2 do
    local field = all[i]
    if field == '_f' then
      state.last = tonumber(all[i + 1]) or 0
    else
      local expiry, fence, w = string.match(all[i + 1], '^(%d+):(%d+):(%d+)$')
      expiry, w = tonumber(expiry), tonumber(w)
      if not expiry or expiry <= now then
        redis.call('HDEL', holders, field)
      else
        local left = expiry - now
        if left > state.longest then state.longest = left end
        if field == token then
          state.mine = { tonumber(fence), left }
        else
          state.used = state.used + w
          if state.earliest < 0 or left < state.earliest then state.earliest = left end
        end
      end
    end
  end
  return state
end
