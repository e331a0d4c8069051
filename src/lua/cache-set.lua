--[[
  Stores a cache entry (or nothing) and tells the others: releases the writer's load lock and
  wakes the processes waiting on it, and publishes a near-cache invalidation.
  KEYS[1] entry key
  KEYS[2] load lock of the entry
  ARGV[1] entry text ('' stores nothing: the loaded value is not cached)
  ARGV[2] TTL in ms of the entry
  ARGV[3] lock token of the load that produced the value ('' for a plain write)
  ARGV[4] channel of the cache
  ARGV[5] message for waiters, published when this call released the lock or another load holds it ('' none)
  ARGV[6] invalidation message, published always ('' none)
  Reply: 1 when this call released the lock, else 0
]]
if ARGV[1] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
local released = 0
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
  released = 1
end
if ARGV[5] ~= '' and (released == 1 or redis.call('EXISTS', KEYS[2]) == 1) then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
if ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[4], ARGV[6])
end
return released
