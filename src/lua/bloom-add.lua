--[[
  Bloom filter: adds items by setting their bit positions (computed by the client).
  KEYS[1] bitmap
  ARGV[1] number of positions per item (k)
  ARGV[2] first bit position of the first item; positions follow item after item, k each
  Reply: one integer per item: 1 when at least one of its bits was unset (the item was surely new), else 0
]]
local k = tonumber(ARGV[1])
local out = {}
local n = 0
for i = 2, #ARGV, k do
  local new = 0
  for j = i, i + k - 1 do
    if redis.call('SETBIT', KEYS[1], ARGV[j], 1) == 0 then new = 1 end
  end
  n = n + 1
  out[n] = new
end
return out
