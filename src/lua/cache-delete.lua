--[[
  Deletes a cache entry and publishes its near-cache invalidation.
  KEYS[1] entry key
  ARGV[1] channel of the cache
  ARGV[2] invalidation message ('' none)
  Reply: 1 when the entry existed, else 0
]]
local deleted = redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then
  redis.call('PUBLISH', ARGV[1], ARGV[2])
end
return deleted
