--[[
  Adds `units` (negative: removes them) to one product's stock, only if the stock stays at zero or
  above: a refused call writes nothing (two commands from the client could leave a stock that went
  below zero, or a key created for a refused call).
  KEYS[1] stock: string, units available
  ARGV[1] units (safe integer, may be negative)
  Reply: {1, units available after} added; {0, units available} refused (not enough stock)
]]
local stock = KEYS[1]
local units = tonumber(ARGV[1])
local raw = redis.call('GET', stock)
local available = 0
if raw then
  available = tonumber(raw)
  -- Planted garbage: refuse before touching it.
  if available == nil or available ~= math.floor(available) then
    return redis.error_reply('ERR inventory stock is not an integer')
  end
end
if available + units < 0 then return { 0, available } end
-- Past 2^53 - 1 a unit more or less is not a number the reply can carry (as counter-add.lua).
if available + units > 9007199254740991 then
  return redis.error_reply('E_INVALID_ARGUMENT inventory stock would pass 2^53-1: refused, nothing was written')
end
if units == 0 then return { 1, available } end
-- As a string: node-redis misreads integer replies near 2^53 (counter-add.lua does the same).
return { 1, string.format('%.0f', redis.call('INCRBY', stock, units)) }
