--[[
  Cluster, step 2 of 3: appends claimed expirations to the event stream, one entry per event
  (k = key, d = deadline, v = kept value).
  KEYS[1] event stream
  ARGV[1] oldest stream id to retain (MINID), or '0' to keep everything
  ARGV[2..n] triples: key, deadline, kept value or ''
  Reply: the number of events appended
]]
--- @include "retention-trim"
local n = 0
for i = 2, #ARGV, 3 do
  if ARGV[i + 2] == '' then
    redis.call('XADD', KEYS[1], '*', 'k', ARGV[i], 'd', ARGV[i + 1])
  else
    redis.call('XADD', KEYS[1], '*', 'k', ARGV[i], 'd', ARGV[i + 1], 'v', ARGV[i + 2])
  end
  n = n + 1
end
if n > 0 then trim_before(KEYS[1], ARGV[1]) end
return n
