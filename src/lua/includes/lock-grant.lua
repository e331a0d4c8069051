-- Gives `who` a hold of weight `w` for `ttl` ms. Fencing tokens only grow, even when the hash and
-- its counter ('_f') are lost with a restart without persistence: each is at least the server
-- time in µs. The hash lives as long as its longest hold, so idle locks leave no keys behind.
-- Returns the fencing token as a string (exact: below 2^53).
local function lock_grant(holders, who, ttl, w, now, nowUs)
  local last = tonumber(redis.call('HGET', holders, '_f')) or 0
  local f = string.format('%.0f', math.max(last + 1, nowUs))
  redis.call('HSET', holders, who, (now + ttl) .. ':' .. f .. ':' .. w, '_f', f)
  if redis.call('PTTL', holders) < ttl then redis.call('PEXPIRE', holders, ttl) end
  return f
end
