--[[
  A load failed: releases its lock (when still held by it) and tells the waiters why.
  KEYS[1] load lock of the entry
  ARGV[1] lock token of the failed load
  ARGV[2] channel of the cache
  ARGV[3] failure message for waiters
  ARGV[4] how it is sent: PUBLISH, SPUBLISH (the channel is in the lock's slot), or 'reply'
  Reply: { 1 when the lock was released, 0 when it had expired or another load holds it;
           then the message to send when ARGV[4] is 'reply' }
]]
--- @include "cache-tell"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  cache_tell(ARGV[4], ARGV[2], ARGV[3])
  return { 1, unpack(told) }
end
return { 0 }
