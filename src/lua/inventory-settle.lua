--[[
  Settles a reservation: confirm (the units are sold), cancel (they return to stock) or lapse (the
  reservation's time ran out: they return to stock). Only a live reservation of the given
  generation changes (any generation when ARGV[2] is empty); a lapsed one is never confirmed, and
  settling twice is harmless.
  KEYS[1] stock: string, units available
  KEYS[2] reservation: hash qty, user, state, gen, expiry (ms)
  ARGV[1] 'confirm' | 'cancel' | 'lapse'
  ARGV[2] generation ('' for the current one)
  ARGV[3] how long the settled record is kept, ms
  Reply: {1, generation} settled as asked; {0, state} not reserved (or another generation); a
    confirm that comes too late lapses the reservation and replies {0, 'lapsed'}; {2, ms left} a
    lapse that came before the reservation's expiry (its marker was written a little earlier):
    nothing changes, and the caller arms the lapse again for the time left
]]
--- @include "server-time"
local stock, res, op = KEYS[1], KEYS[2], ARGV[1]
local cur = redis.call('HMGET', res, 'state', 'qty', 'gen', 'expiry')
if cur[1] ~= 'reserved' or (ARGV[2] ~= '' and cur[3] ~= ARGV[2]) then return { 0, cur[1] or 'none' } end
local now = server_time_ms()
local expiry = tonumber(cur[4]) or 0
if op == 'lapse' and expiry > now then return { 2, expiry - now } end
if op == 'confirm' and expiry <= now then op = 'lapse' end
local keep = tonumber(ARGV[3])
if op == 'confirm' then
  redis.call('HSET', res, 'state', 'confirmed')
  redis.call('PEXPIRE', res, keep)
  return { 1, cur[3] }
end
redis.call('INCRBY', stock, tonumber(cur[2]) or 0)
redis.call('HSET', res, 'state', op == 'cancel' and 'cancelled' or 'lapsed')
redis.call('PEXPIRE', res, keep)
if ARGV[1] == 'confirm' then return { 0, 'lapsed' } end
return { 1, cur[3] }
