--[[
  Adds a session to its user's index, and keeps the index alive as long as its longest-lived
  session (forever when one has no absolute deadline, as a framework's sliding sessions).
  KEYS[1] user index (zset: member = session id, score = when it was added, server clock in ms)
  ARGV[1] session id
  ARGV[2] the session's absolute deadline (epoch ms), 0 when none
  Reply: the number of sessions in the index
]]
--- @include "server-time"
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
return redis.call('ZCARD', KEYS[1])
