--[[
  Cluster, step 2 of 3: appends claimed expirations to the event stream, as one entry (field = key,
  value = deadline, or deadline|kept value).
  KEYS[1] event stream
  ARGV[1] oldest stream id to retain (MINID), or '0' to keep everything
  ARGV[2..n] pairs: key, deadline or deadline|kept value
  Reply: the number of events appended
]]
--- @include "retention-trim"
local n = (#ARGV - 1) / 2
if n > 0 then
  redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
  trim_before(KEYS[1], ARGV[1])
end
return n
