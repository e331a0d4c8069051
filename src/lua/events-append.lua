--[[
  Cluster, step 2 of 3: appends claimed expirations to the event stream, up to ARGV[2] events per
  entry (see the event-value include).
  KEYS[1] event stream
  KEYS[2] kept values of events in the stream (a stream with the entry's id: position = kept value)
  ARGV[1] oldest stream id to retain (MINID), or '0' to keep everything
  ARGV[2] most events per stream entry
  ARGV[3..n] triples: key, deadline, kept value or ''
  Reply: the number of events appended
]]
--- @include "retention-trim"
--- @include "event-value"
local batch = new_event_batch(KEYS[1], KEYS[2], tonumber(ARGV[2]))
local n = 0
for i = 3, #ARGV, 3 do
  event_batch_add(batch, ARGV[i], ARGV[i + 1], ARGV[i + 2] ~= '' and ARGV[i + 2])
  n = n + 1
end
event_batch_flush(batch)
if n > 0 then trim_before(KEYS[1], ARGV[1]) end
return n
