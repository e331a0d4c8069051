--[[
  Sliding window counter on the server's clock: a ring of `buckets` fields, field i holding
  "<bucket index>:<count>" for the last bucket that mapped to it, so memory is bounded by the
  number of buckets whatever the traffic. The count is the sum of the buckets of the last window
  (the current one included): exact at bucket precision. It is kept as a running total (field t,
  for the window ending at bucket h): a call reads only the fields of the buckets that left the
  window since the last call (none or one under steady traffic, at most `buckets` after a pause
  shorter than the window, none after a longer one), never the whole ring. A hash without h and t
  (written by an older redkit) is summed once. If the server's clock stepped back, the window
  stays at h until the clock catches up (by more than a window: the counts are dropped).
  KEYS[1] window: hash of (bucket index mod buckets) -> "<bucket index>:<count>", plus h (newest bucket counted) and t (the total)
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

local function corrupt()
  return redis.error_reply('E_DECODE sliding window ' .. key .. ' holds a value redkit did not write')
end

local function parse(v)
  local index, count = string.match(v, '^(%d+):(%d+)$')
  index, count = tonumber(index), tonumber(count)
  if not index or count > MAX then return nil end
  return index, count
end

-- Read and check everything before the first write.
local meta = redis.call('HMGET', key, 'h', 't')
local head, total = tonumber(meta[1]), tonumber(meta[2])
local fresh = false
if meta[1] or meta[2] then
  if not head or not total or not string.match(meta[1], '^%d+$') or not string.match(meta[2], '^%d+$') or total > MAX then return corrupt() end
  if head >= current + buckets then
    fresh = true -- the clock stepped back by a window or more: start again
    head, total = current, 0
  elseif head > current then
    current = head
  end
else
  -- No running total yet: sum the ring once (in chunks: unpack() has a stack limit).
  head, total = current, 0
  if redis.call('EXISTS', key) == 1 then
    for first = 0, buckets - 1, 1000 do
      local fields = {}
      for i = first, math.min(first + 999, buckets - 1) do fields[#fields + 1] = tostring(i) end
      local values = redis.call('HMGET', key, unpack(fields))
      for _, v in ipairs(values) do
        if v then
          local index, count = parse(v)
          if not index then return corrupt() end
          if index > current - buckets and index <= current then total = total + count end
        end
      end
    end
  end
end

-- Buckets head+1 .. current enter the window, and the ones they replace in the ring leave it.
local here = tostring(current % buckets)
local mine = 0
if current - head >= buckets then
  total = 0 -- everything counted left; the ring's fields are all older than the window now
else
  for from = head + 1, current, 1000 do
    local to = math.min(from + 999, current)
    local fields = {}
    for j = from, to do fields[#fields + 1] = tostring(j % buckets) end
    local values = redis.call('HMGET', key, unpack(fields))
    for i = 1, #fields do
      local v = values[i]
      if v then
        local index, count = parse(v)
        if not index then return corrupt() end
        if index == from + i - 1 - buckets then total = total - count end
      end
    end
  end
  if total < 0 then return corrupt() end
end
local v = redis.call('HGET', key, here)
if v then
  local index, count = parse(v)
  if not index then return corrupt() end
  if index == current then mine = count end
end

if n > 0 and total + n > MAX then return redis.error_reply('E_INVALID_ARGUMENT sliding window ' .. key .. ' would pass 2^53-1') end
if fresh then redis.call('DEL', key) end
if n > 0 then
  total = total + n
  redis.call('HSET', key, here, string.format('%.0f', current) .. ':' .. string.format('%.0f', mine + n), 'h', string.format('%.0f', current), 't', string.format('%.0f', total))
  redis.call('PEXPIRE', key, precision * (buckets + 1))
elseif current ~= head and redis.call('EXISTS', key) == 1 then
  redis.call('HSET', key, 'h', string.format('%.0f', current), 't', string.format('%.0f', total))
end
return string.format('%.0f', total)
