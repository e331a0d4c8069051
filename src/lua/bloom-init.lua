--[[
  Bloom filter (Lua backend): records its layout (size and position scheme) on first use; later
  users adopt the recorded one, so every process computes the same positions even when their
  options differ. A filter recorded without a scheme predates scheme 2 and keeps scheme 1. A
  recorded layout that redkit could not have written, or one larger than the caller accepts, is
  refused: it would make every add loop forever (hashes = 0) or allocate up to 512 MB (bits = 2^32).
  KEYS[1] params: hash of bits, hashes, scheme
  ARGV[1] bits wanted
  ARGV[2] hashes wanted
  ARGV[3] largest recorded bits accepted
  ARGV[4] scheme of a new filter
  Reply: {bits, hashes, scheme} in force
]]
local stored = redis.call('HMGET', KEYS[1], 'bits', 'hashes', 'scheme')
if not stored[1] and not stored[2] and not stored[3] then
  redis.call('HSET', KEYS[1], 'bits', ARGV[1], 'hashes', ARGV[2], 'scheme', ARGV[4])
  return {tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])}
end
local bits, hashes, scheme = tonumber(stored[1]), tonumber(stored[2]), 1
if stored[3] then scheme = tonumber(stored[3]) end
if not bits or not hashes or bits ~= math.floor(bits) or hashes ~= math.floor(hashes) or bits < 1 or bits > 2 ^ 32 or hashes < 1 or hashes > 32
  or hashes > bits or (scheme ~= 1 and scheme ~= 2) or (scheme == 2 and hashes >= bits) then
  return redis.error_reply('E_DECODE bloom filter ' .. KEYS[1] .. ' records a size redkit did not write')
end
if bits > tonumber(ARGV[3]) then
  return redis.error_reply('E_DECODE bloom filter ' .. KEYS[1] .. ' records ' .. stored[1] .. ' bits, more than maxBits (' .. ARGV[3] .. ')')
end
return {bits, hashes, scheme}
