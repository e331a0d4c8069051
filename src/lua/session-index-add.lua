--[[
  Adds a session to its user's index, and keeps the index (and the user's revocation epoch) alive
  as long as its longest-lived session.
  KEYS[1] index: zset, member = session id, score = when it was added (server clock, ms)
  KEYS[2] epoch: string, the server time of the user's last revoke-all (absent: never)
  ARGV[1] session id
  ARGV[2] the session's deadline (epoch ms): its absolute deadline, or its TTL's end; 0 for none
  Reply: { sessions in the index, the user's revocation epoch (0: none) }
]]
--- @include "server-time"
--- @include "check-types"
-- An epoch of another type met after the index was written would fail the create halfway.
local refused = check_types({ KEYS[1], 'zset', KEYS[2], 'string' })
if refused then return refused end
local now = server_time_ms()
local deadline = tonumber(ARGV[2])
local fresh = redis.call('EXISTS', KEYS[1]) == 0
-- The time added lets pruning spare entries whose session is still being written (entry first).
redis.call('ZADD', KEYS[1], now, ARGV[1])
if deadline == 0 then
  redis.call('PERSIST', KEYS[1])
else
  local current = redis.call('PEXPIRETIME', KEYS[1])
  if fresh or (current > 0 and current < deadline) then redis.call('PEXPIREAT', KEYS[1], deadline) end
end
local epoch = redis.call('GET', KEYS[2])
if epoch then
  -- The epoch must outlive every session that carries it: it follows the index's lifetime.
  local until_ms = redis.call('PEXPIRETIME', KEYS[1])
  if until_ms == -1 then redis.call('PERSIST', KEYS[2])
  elseif until_ms > redis.call('PEXPIRETIME', KEYS[2]) and redis.call('PEXPIRETIME', KEYS[2]) ~= -1 then
    redis.call('PEXPIREAT', KEYS[2], until_ms)
  end
end
-- An epoch that is not a time redkit wrote (planted 'inf', garbage) counts as none, as in session-revoke.
local valid = epoch and #epoch <= 15 and string.match(epoch, '^%d+$')
return { redis.call('ZCARD', KEYS[1]), valid and tonumber(epoch) or 0 }
