--[[
  Reserves `qty` units of one product for a lapse, if that much stock is available: the stock can
  never go below zero. A reservation id whose earlier reservation lapsed but was not yet settled
  returns that reservation's stock first (its late lapse event then finds another generation).
  KEYS[1] stock: string, units available
  KEYS[2] reservation: hash qty, user, state (reserved|confirmed|cancelled|lapsed), gen, expiry (ms)
  ARGV[1] qty (positive integer)
  ARGV[2] user
  ARGV[3] generation (random, new for this reservation)
  ARGV[4] lapse, ms
  ARGV[5] how long a settled record is kept, ms (a reserved one has no expiry: its lapse event,
    however late, must find it to return the units)
  Reply: {1, expiry ms} reserved; {0, units available} not enough stock; {-1, expiry ms} the id holds a live reservation
]]
--- @include "server-time"
local stock, res = KEYS[1], KEYS[2]
local qty, lapse, keep = tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = server_time_ms()
local old = redis.call('HMGET', res, 'state', 'qty', 'expiry')
if old[1] == 'reserved' then
  local expiry = tonumber(old[3]) or 0
  if expiry > now then return { -1, expiry } end
  redis.call('INCRBY', stock, tonumber(old[2]) or 0)
  redis.call('HSET', res, 'state', 'lapsed')
  redis.call('PEXPIRE', res, keep)
end
local available = tonumber(redis.call('GET', stock) or '0') or 0
if available < qty then return { 0, available } end
redis.call('DECRBY', stock, qty)
redis.call('DEL', res)
redis.call('HSET', res, 'qty', qty, 'user', ARGV[2], 'state', 'reserved', 'gen', ARGV[3], 'expiry', now + lapse)
return { 1, now + lapse }
