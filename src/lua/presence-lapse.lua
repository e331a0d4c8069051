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
--- @include "presence-offline"
local now = server_time_ms()
local retention = tonumber(ARGV[1])

local ids
if ARGV[2] == 'id' then
  ids = { ARGV[3] }
else
  ids = redis.call('ZRANGE', KEYS[2], '-inf', string.format('%d', now - tonumber(ARGV[3])), 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[4]))
end

local function append(fields)
  append_retained(KEYS[3], now, retention, fields)
end
return { record_offline(KEYS[1], KEYS[2], now, ids, append), #ids }
