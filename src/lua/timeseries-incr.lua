--[[
  Timeseries: adds n to the bucket of every granularity the series keeps, in one call; each bucket
  expires `retention` after it ends. All four KEYS are always passed (one slot: the series' tag);
  a granularity the series does not keep has expire-at 0 and its key is never touched.
  KEYS[1] minute: the minute bucket (integer string)
  KEYS[2] hour: the hour bucket
  KEYS[3] day: the day bucket
  KEYS[4] month: the month bucket
  ARGV[1] n: a non-negative integer
  ARGV[2] minute bucket's expire-at, epoch ms (0 = not kept)
  ARGV[3] hour bucket's expire-at
  ARGV[4] day bucket's expire-at
  ARGV[5] month bucket's expire-at
  A bucket whose expire-at is already past on the server's clock is not written (it would be deleted at once).
  Reply: {minute count, hour count, day count, month count} after the increment, as strings (node-redis parses
  integer replies near 2^53 inexactly); '0' where not kept or already expired
]]
--- @include "server-time"
local n = tonumber(ARGV[1])
local now = server_time_ms()
local MAX = 9007199254740991

-- Check every bucket before the first write, so a refused call changes nothing.
local current = {}
for i = 1, 4 do
  if tonumber(ARGV[i + 1]) > now then
    local v = redis.call('GET', KEYS[i])
    local count = 0
    if v then
      count = tonumber(v)
      if not count or not string.match(v, '^%d+$') or count > MAX then
        return redis.error_reply('E_DECODE timeseries bucket ' .. KEYS[i] .. ' holds a value redkit did not write')
      end
    end
    if count + n > MAX then
      return redis.error_reply('E_INVALID_ARGUMENT timeseries bucket ' .. KEYS[i] .. ' would pass 2^53-1')
    end
    current[i] = count
  end
end

local out = {'0', '0', '0', '0'}
for i = 1, 4 do
  if current[i] then
    out[i] = string.format('%.0f', redis.call('INCRBY', KEYS[i], n))
    redis.call('PEXPIREAT', KEYS[i], ARGV[i + 1])
  end
end
return out
