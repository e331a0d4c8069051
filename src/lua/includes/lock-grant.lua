-- Gives `who` a hold of weight `w` for `ttl` ms, updating `state` (from lock_holders). Fencing
-- tokens only grow, even when the hash and its counter ('_f') are lost with a restart without
-- persistence: each is at least the server time in µs. The hash lives as long as its longest
-- hold, so idle locks leave no keys behind. Returns the fencing token as a string (exact below 2^53).
local function lock_grant(holders, state, who, ttl, w, now, nowUs)
  local f = string.format('%.0f', math.max(state.last + 1, nowUs))
  state.last = tonumber(f)
  redis.call('HSET', holders, who, table.concat({ now + ttl, f, w }, ':'), '_f', f)
  if ttl > state.longest then
    redis.call('PEXPIRE', holders, ttl)
    state.longest = ttl
  end
  state.used = state.used + w
  state.count = state.count + 1
  return f
end
