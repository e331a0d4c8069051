--[[
  Bloom filter (Lua backend): adds items by setting their bit positions (computed by the client).
  The size the client computed with must still be the recorded one (another process may have
  destroyed and recreated the filter), and every position must lie inside it, before any bit is read
  or set: nothing planted or stale makes this loop without end or grow the bitmap.
  KEYS[1] bits: the bitmap
  KEYS[2] params: hash of bits, hashes, scheme (the recorded layout; no scheme = 1)
  ARGV[1] bits the positions were computed for
  ARGV[2] positions per item (k)
  ARGV[3] position scheme they were computed with
  ARGV[4] first bit position of the first item; positions follow item after item, k each
  Reply: one integer per item: 1 when at least one of its bits was unset (the item was surely new), else 0
]]
local bits, k = tonumber(ARGV[1]), tonumber(ARGV[2])
local size = redis.call('HMGET', KEYS[2], 'bits', 'hashes', 'scheme')
if tonumber(size[1]) ~= bits or tonumber(size[2]) ~= k or (tonumber(size[3]) or 1) ~= tonumber(ARGV[3]) then
  return redis.error_reply('E_DECODE bloom-size-changed: the recorded size of ' .. KEYS[2] .. ' is not the one in use')
end
if not k or k < 1 or k > 32 or k ~= math.floor(k) or (#ARGV - 3) % k ~= 0 then
  return redis.error_reply('E_INVALID_ARGUMENT bloom positions do not come in groups of k')
end
for i = 4, #ARGV do
  local p = tonumber(ARGV[i])
  if not p or p < 0 or p >= bits or p ~= math.floor(p) then
    return redis.error_reply('E_INVALID_ARGUMENT bloom position outside the filter')
  end
end
local out = {}
local n = 0
for i = 4, #ARGV, k do
  local new = 0
  for j = i, i + k - 1 do
    if redis.call('SETBIT', KEYS[1], ARGV[j], 1) == 0 then new = 1 end
  end
  n = n + 1
  out[n] = new
end
return out
