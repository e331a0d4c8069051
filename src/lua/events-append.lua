--[[
  Cluster, step 2 of 3: appends claimed expirations to the event stream, as one entry (field = key,
  value = deadline, or deadline|kept value).
  KEYS[1] event stream
  ARGV[1] oldest stream id to retain (MINID), or '0' to keep everything
  ARGV[2..n] pairs: key, deadline or deadline|kept value
  Reply: the number of events appended
]]
local n = (#ARGV - 1) / 2
if n > 0 then
  redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
  if ARGV[1] ~= '0' then redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[1]) end
end
return n
