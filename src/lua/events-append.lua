--[[
  Cluster, step 2 of 3: appends claimed expirations to the event stream, one entry per event
  (k = key, d = deadline, v = '' when a value is kept).
  KEYS[1] event stream
  KEYS[2] kept values of events in the stream (a stream with the event's id: v = kept value)
  ARGV[1] oldest stream id to retain (MINID), or '0' to keep everything
  ARGV[2..n] triples: key, deadline, kept value or ''
  Reply: the number of events appended
]]
--- @include "retention-trim"
--- @include "event-value"
local n = 0
for i = 2, #ARGV, 3 do
  if ARGV[i + 2] == '' then
    redis.call('XADD', KEYS[1], '*', 'k', ARGV[i], 'd', ARGV[i + 1])
  else
    keep_event_value(KEYS[1], KEYS[2], ARGV[i], ARGV[i + 1], ARGV[i + 2])
  end
  n = n + 1
end
if n > 0 then trim_before(KEYS[1], ARGV[1]) end
return n
