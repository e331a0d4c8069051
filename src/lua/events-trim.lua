--[[
  Retention of the expiry stream. An event every group acknowledged stays only for the replay
  window (for a group created with from = 'retained', or one that comes back after Redis lost its
  data); an event some group has not acknowledged stays at most the retention (a group offline
  longer misses it). A kept value is needed only until every group acknowledged its event.
  KEYS[1] event stream
  KEYS[2] kept values of events in the stream (a stream with the same ids: v = kept value)
  KEYS[3] group registry (hash: group -> '1', or 't' for a temporary group, e.g. a watcher's)
  ARGV[1] replay window in ms
  ARGV[2] retention in ms
  ARGV[3] a temporary group none of whose consumers read for this long (ms) is removed (its process died)
  Reply: { events trimmed, values trimmed, temporary groups removed }
]]
--- @include "server-time"
--- @include "stream-ack-floor"
local now = server_time_ms()
local removed = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local name
    for i = 1, #info, 2 do if info[i] == 'name' then name = info[i + 1] end end
    if name and redis.call('HGET', KEYS[3], name) == 't' then
      local stale = true
      for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], name)) do
        for i = 1, #consumer, 2 do
          if consumer[i] == 'idle' and tonumber(consumer[i + 1]) < tonumber(ARGV[3]) then stale = false end
        end
      end
      if stale then
        redis.call('XGROUP', 'DESTROY', KEYS[1], name)
        redis.call('HDEL', KEYS[3], name)
        removed = removed + 1
      end
    end
  end
end
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
return { events, values, removed }
