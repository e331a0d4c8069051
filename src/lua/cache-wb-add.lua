--[[
  Write-behind: appends a pending write to the cache's durable stream and records it as the newest
  write of its key (drainers skip older writes of a key once a newer one is queued).
  KEYS[1] write-behind stream
  KEYS[2] newest stream id per key (hash)
  KEYS[3] each key's replayable dead write (hash): a newer write supersedes it
  KEYS[4] number of each key's writes in the stream (hash)
  ARGV[1] cache key
  ARGV[2] operation: 'set' or 'delete'
  ARGV[3] encoded value ('<kind><payload>', '' for a delete)
  Reply: the stream id of the write
]]
-- Read before any write: a wrong type fails the script with nothing written.
local queued = tonumber(redis.call('HGET', KEYS[4], ARGV[1])) or 0
local id = redis.call('XADD', KEYS[1], '*', 'k', ARGV[1], 'o', ARGV[2], 'v', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], id)
redis.call('HSET', KEYS[4], ARGV[1], queued + 1)
redis.call('HDEL', KEYS[3], ARGV[1])
return id
