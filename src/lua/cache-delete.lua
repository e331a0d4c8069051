--[[
  Deletes a cache entry and voids every load in flight of it (bumps its lease version and drops
  its load lock, so a load that started before the delete never writes its value back), then
  publishes the invalidation (near copies drop, waiters read again).
  KEYS[1] entry key
  KEYS[2] load lock of the entry
  KEYS[3] lease version of the entry
  ARGV[1] channel of the cache
  ARGV[2] invalidation message ('' none)
  ARGV[3] TTL in ms of the bumped lease version (longer than any load may run)
  ARGV[4] how the message is sent: PUBLISH, or 'reply' (returned for the caller to SPUBLISH)
  ARGV[5] the fresh lease version it leaves (unique: a lost one never comes back, see cache-lock.lua)
  Reply: { 1 when the entry existed, else 0; then the message to send when ARGV[4] is 'reply' }
]]
--- @include "cache-tell"
--- @include "cache-version"
local deleted = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
cache_version_bump(KEYS[3], ARGV[5], ARGV[3])
if ARGV[2] ~= '' then
  cache_tell(ARGV[4], ARGV[1], ARGV[2])
end
return { deleted, unpack(told) }
