--[[
  Adds an entry to a tag's index and keeps the index alive at least as long as the entry.
  KEYS[1] tag index (a set of entry keys)
  ARGV[1] TTL in ms of the entry just written
  ARGV[2] entry key
  Reply: 1 when the entry was new in the index, else 0
]]
local added = redis.call('SADD', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return added
