--[[
  Reads who is online, against the server clock: a member is online while its deadline is in the future.
  KEYS[1] members (hash: id -> '<since>,<lastBeat>,' .. ('' | 'm' .. encoded meta))
  KEYS[2] member deadlines (zset: id -> deadline)
  ARGV[1] 'is' (is member ARGV[2] online?), 'count', or 'list'
  ARGV[2] member id (for 'is')
  Reply: 'is': 1 or 0; 'count': the number online; 'list': flat { id, deadline, record, ... }
]]
--- @include "server-time"
local now = server_time_ms()
local after = '(' .. string.format('%d', now)
if ARGV[1] == 'is' then
  local deadline = redis.call('ZSCORE', KEYS[2], ARGV[2])
  if deadline and tonumber(deadline) > now then return 1 end
  return 0
elseif ARGV[1] == 'count' then
  return redis.call('ZCOUNT', KEYS[2], after, '+inf')
end
local found = redis.call('ZRANGE', KEYS[2], after, '+inf', 'BYSCORE', 'WITHSCORES')
local out = {}
for i = 1, #found, 2 do
  local rec = redis.call('HGET', KEYS[1], found[i])
  if rec then
    out[#out + 1] = found[i]
    out[#out + 1] = found[i + 1]
    out[#out + 1] = rec
  end
end
return out
