--[[
  Sliding window counter on the server's clock: a ring of `buckets` fields, field i holding
  "<bucket index>:<count>" for the last bucket that mapped to it, so memory is bounded by the
  number of buckets whatever the traffic. The count is the sum of the buckets of the last window
  (the current one included): exact at bucket precision.
  KEYS[1] window: hash of (bucket index mod buckets) -> "<bucket index>:<count>"
  ARGV[1] n to add (0 = only count)
  ARGV[2] precision: bucket size in ms
  ARGV[3] buckets in the window
  Reply: the count in the window after adding n, as a string (node-redis parses integer replies near 2^53 inexactly)
]]
--- @include "server-time"
local key = KEYS[1]
local n = tonumber(ARGV[1])
local precision = tonumber(ARGV[2])
local buckets = tonumber(ARGV[3])
local MAX = 9007199254740991
local current = math.floor(server_time_ms() / precision)
local here = tostring(current % buckets)

-- Read and check the whole ring before the first write (in chunks: unpack() has a stack limit).
local sum, mine = 0, 0
for first = 0, buckets - 1, 1000 do
  local fields = {}
  for i = first, math.min(first + 999, buckets - 1) do fields[#fields + 1] = tostring(i) end
  local values = redis.call('HMGET', key, unpack(fields))
  for j, v in ipairs(values) do
    if v then
      local index, count = string.match(v, '^(%d+):(%d+)$')
      index, count = tonumber(index), tonumber(count)
      if not index or count > MAX then
        return redis.error_reply('E_DECODE sliding window ' .. key .. ' holds a value redkit did not write')
      end
      if index > current - buckets and index <= current then
        sum = sum + count
        if fields[j] == here and index == current then mine = count end
      end
    end
  end
end
if n > 0 then
  if sum + n > MAX then return redis.error_reply('E_INVALID_ARGUMENT sliding window ' .. key .. ' would pass 2^53-1') end
  redis.call('HSET', key, here, string.format('%.0f', current) .. ':' .. string.format('%.0f', mine + n))
  redis.call('PEXPIRE', key, precision * (buckets + 1))
  sum = sum + n
end
return string.format('%.0f', sum)
