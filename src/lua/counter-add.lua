--[[ Adds a delta to a counter, refusing any result outside JavaScript's safe integer range
  (+-(2^53 - 1)): past it a number cannot hold the value exactly, so the caller would read a
  different number than Redis stores. A refused call leaves the counter unchanged.
  KEYS[1] counter: the integer string
  ARGV[1] delta: a safe integer
  Reply: the new value as a string (node-redis parses integer replies near 2^53 inexactly);
    E_DECODE when the stored value is not an integer, E_INVALID_ARGUMENT past the safe range
]]
local MAX = 9007199254740991
local stored = redis.call('GET', KEYS[1])
local current = 0
if stored then
  if not string.match(stored, '^-?%d+$') or #stored > 20 then
    return redis.error_reply('E_DECODE counter ' .. KEYS[1] .. ' holds a value that is not an integer')
  end
  current = tonumber(stored)
end
-- Doubles are exact up to 2^53, so the sum of two safe integers compares correctly against MAX.
local result = current + tonumber(ARGV[1])
if result > MAX or result < -MAX then
  return redis.error_reply('E_INVALID_ARGUMENT counter ' .. KEYS[1] .. ' would leave the safe integer range (+-(2^53 - 1))')
end
redis.call('INCRBY', KEYS[1], ARGV[1])
return redis.call('GET', KEYS[1])
