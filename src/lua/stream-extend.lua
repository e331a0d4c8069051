--[[
  Keeps the entries a live consumer is still handling from looking idle, so no other consumer of
  the group takes them over: resets their idle time, for the entries this consumer still owns only
  (never takes one back from a consumer that took it over).
  KEYS[1] stream
  ARGV[1] group
  ARGV[2] consumer
  ARGV[3..n] stream ids the consumer holds
  Reply: the number of entries extended
]]
local n = 0
for i = 3, #ARGV do
  local row = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if row[1] and row[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    n = n + 1
  end
end
return n
