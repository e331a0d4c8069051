--[[
  Records the offline transition of members whose deadline has passed, once: the member's record is
  removed in the same step as its offline event is appended, so a second call (a redelivered expiry
  event, another process, the periodic reaper) finds nothing to do.
  KEYS[1] members (hash: id -> '<since>,<lastBeat>,' .. ('' | 'm' .. encoded meta))
  KEYS[2] member deadlines (zset: id -> deadline)
  KEYS[3] transitions stream
  ARGV[1] retention of the transitions stream in ms ('0' keeps everything)
  ARGV[2] mode: 'id' to check the one member ARGV[3], 'due' to reap members lapsed for ARGV[3] ms or more
  ARGV[3] member id (mode 'id') or grace in ms (mode 'due')
  ARGV[4] mode 'due': most members to reap in this call
  Reply: { members recorded offline, members examined }
]]
--- @include "server-time"
--- @include "retention-trim"
local now = server_time_ms()
local retention = tonumber(ARGV[1])

local ids
if ARGV[2] == 'id' then
  ids = { ARGV[3] }
else
  ids = redis.call('ZRANGE', KEYS[2], '-inf', string.format('%d', now - tonumber(ARGV[3])), 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[4]))
end

local n = 0
for _, id in ipairs(ids) do
  local deadline = redis.call('ZSCORE', KEYS[2], id)
  local rec = redis.call('HGET', KEYS[1], id)
  if deadline and rec and tonumber(deadline) <= now then
    local s, lb, m = string.match(rec, '^(%d+),(%d+),(.*)$')
    local fields = { 't', 'offline', 'id', id, 'at', deadline, 's', s, 'lb', lb }
    if m ~= '' then
      fields[#fields + 1] = 'm'
      fields[#fields + 1] = string.sub(m, 2)
    end
    append_retained(KEYS[3], now, retention, fields)
    redis.call('HDEL', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    n = n + 1
  elseif rec == false and deadline then
    -- A deadline without a record cannot be online; drop it.
    redis.call('ZREM', KEYS[2], id)
  end
end
return { n, #ids }
