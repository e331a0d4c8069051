--[[
  Stores a cache entry (or nothing) and tells the others.
  A plain write (ARGV[7] '') always stores and voids every load in flight of the entry: it bumps
  the lease version and drops the load lock (waiters hear the invalidation and read again).
  A loaded value (ARGV[7] the lease version its load was granted) is stored only while that version
  is unchanged, so a load never writes back over a newer delete, set or invalidation; either way
  it releases its own load lock and wakes the processes waiting on it. A version that is gone
  (flushed, evicted, expired) is void: the versions are unique strings, so none comes back.
  A write-through set (ARGV[12] 'through') holds the lease it took before writing the source: it
  stores while that still holds, else (another write began meanwhile, whose source write may have
  landed before or after its own) it deletes the entry; either way it voids the others.
  KEYS[1] entry key
  KEYS[2] load lock of the entry
  KEYS[3] lease version of the entry
  ARGV[1] entry text ('' stores nothing: the loaded value is not cached)
  ARGV[2] TTL in ms of the entry
  ARGV[3] lock token of the load that produced the value ('' for a plain write)
  ARGV[4] channel of the cache
  ARGV[5] message for waiters, published when the lease held and this call released the lock or another load holds it ('' none)
  ARGV[6] invalidation message, published when the lease held ('' none)
  ARGV[7] lease version of the load ('' for a plain write)
  ARGV[8] TTL in ms of a bumped lease version (longer than any load may run)
  ARGV[9] message for waiters when the lease was void and this call released the lock ('' none)
  ARGV[10] how messages are sent: PUBLISH, or 'reply' (returned for the caller to SPUBLISH)
  ARGV[11] the fresh lease version a plain or write-through write leaves
  ARGV[12] 'through' for a write-through set, else ''
  Reply: { 1 when stored (or nothing to store and the lease held), 0 when the lease was void,
           then the messages to send when ARGV[10] is 'reply' }
]]
--- @include "cache-tell"
--- @include "cache-version"
--- @include "check-types"
local plain = ARGV[7] == ''
local through = ARGV[12] == 'through'
-- A loaded value reads the version and its lock: keys of another type would fail the script after
-- the entry was written. A plain write only deletes the lock and bumps the version (which repairs
-- it), and so does a write-through set (its source already took the write): a version of another
-- type is no lease it holds.
if not plain and not through then
  local refused = check_types({ KEYS[2], 'string', KEYS[3], 'string' })
  if refused then return refused end
end
local held = plain
  or ((not through or redis.call('TYPE', KEYS[3]).ok == 'string') and redis.call('GET', KEYS[3]) == ARGV[7])
if held and ARGV[1] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
elseif through then
  redis.call('DEL', KEYS[1])
end
if plain or through then
  cache_version_bump(KEYS[3], ARGV[11], ARGV[8])
  redis.call('DEL', KEYS[2])
end
local released = 0
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
  released = 1
end
if held and not plain and ARGV[5] ~= '' and (released == 1 or redis.call('EXISTS', KEYS[2]) == 1) then
  cache_tell(ARGV[10], ARGV[4], ARGV[5])
end
if (held or through) and ARGV[6] ~= '' then
  cache_tell(ARGV[10], ARGV[4], ARGV[6])
end
if not held and released == 1 and ARGV[9] ~= '' then
  cache_tell(ARGV[10], ARGV[4], ARGV[9])
end
return { held and 1 or 0, unpack(told) }
