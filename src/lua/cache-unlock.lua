--[[
  A load failed: releases its lock (when still held by it) and tells the waiters why.
  KEYS[1] load lock of the entry
  ARGV[1] lock token of the failed load
  ARGV[2] channel of the cache
  ARGV[3] failure message for waiters
  Reply: 1 when the lock was released, 0 when it had expired or another load holds it
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
