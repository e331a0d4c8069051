--[[
  Retention of the expiry stream. An event every group acknowledged stays only for the replay
  window (for a group created with from = 'retained', or one that comes back after Redis lost its
  data); an event some group has not acknowledged stays at most the retention (a group offline
  longer misses it). A kept value is needed only until every group acknowledged its event.
  KEYS[1] event stream
  KEYS[2] kept values of events in the stream (a stream with the same ids: v = kept value)
  ARGV[1] replay window in ms
  ARGV[2] retention in ms
  Reply: { events trimmed, values trimmed }
]]
--- @include "server-time"
--- @include "stream-ack-floor"
local now = server_time_ms()
local replay_floor = string.format('%d-0', math.max(0, now - tonumber(ARGV[1])))
local retention_floor = string.format('%d-0', math.max(0, now - tonumber(ARGV[2])))
-- With no group, no value is needed and every event is past its acknowledgement.
local acked = stream_ack_floor(KEYS[1]) or string.format('%d-0', now + 1)
local function latest(a, b) if stream_id_less(a, b) then return b end return a end
local function earliest(a, b) if stream_id_less(a, b) then return a end return b end
local events = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  events = redis.call('XTRIM', KEYS[1], 'MINID', latest(retention_floor, earliest(acked, replay_floor)))
end
local values = 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  values = redis.call('XTRIM', KEYS[2], 'MINID', latest(retention_floor, acked))
end
return { events, values }
