--[[
  Write-behind: a write failed its last attempt: moves it to the dead letters (kept for
  inspection and replay), acknowledges and deletes it.
  KEYS[1] write-behind stream
  KEYS[2] newest stream id per key (hash)
  KEYS[3] dead letters stream
  KEYS[4] each key's replayable dead write (hash: key -> stream id it had in the queue)
  KEYS[5] number of each key's writes in the stream (hash)
  ARGV[1] consumer group
  ARGV[2] stream id of the write
  ARGV[3] cache key
  ARGV[4] operation
  ARGV[5] encoded value
  ARGV[6] last error message
  ARGV[7] attempts made
  Reply: {dead letter's stream id, 1 when it was the key's newest write (no newer one queued or applied), else 0}
]]
--- @include "cache-wb-forget"
local dead = redis.call('XADD', KEYS[3], 'MAXLEN', '~', '100000', '*', 'id', ARGV[2], 'k', ARGV[3], 'o', ARGV[4], 'v', ARGV[5], 'e', ARGV[6], 'n', ARGV[7])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
local newest = 0
local latest = redis.call('HGET', KEYS[2], ARGV[3])
if latest == ARGV[2] or not latest then
  newest = 1
end
if redis.call('XDEL', KEYS[1], ARGV[2]) == 1 then
  wb_forget(KEYS[2], KEYS[5], ARGV[3], ARGV[2])
end
-- Only the newest write of a key may be replayed, and only until the key is written again.
if newest == 1 then
  redis.call('HSET', KEYS[4], ARGV[3], ARGV[2])
end
return {dead, newest}
