--[[
  Bloom filter: tests items against their bit positions (computed by the client).
  KEYS[1] bitmap
  ARGV[1] number of positions per item (k)
  ARGV[2] first bit position of the first item; positions follow item after item, k each
  Reply: one integer per item: 1 when every bit is set (the item may have been added), 0 when it surely was not
]]
local k = tonumber(ARGV[1])
local out = {}
local n = 0
for i = 2, #ARGV, k do
  local all = 1
  for j = i, i + k - 1 do
    if redis.call('GETBIT', KEYS[1], ARGV[j]) == 0 then
      all = 0
      break
    end
  end
  n = n + 1
  out[n] = all
end
return out
