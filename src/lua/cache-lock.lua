--[[
  Miss (or refresh) path of a cache read: returns the entry when a usable one landed meanwhile,
  else grants a load lease: the entry's lease version, read in the same step, and (with
  distributed stampede protection, a token given) the entry's load lock when it is free.
  A load stores its value only while that version is unchanged (cache-set.lua): a delete, a set or
  an invalidation bumps it, so a load that started before them never writes back an older value.
  An entry is usable when it was created after ARGV[3] or is fresh at ARGV[4] (header
  `<kind><createdAt>:<freshUntil>|` or `...;`); an entry without that header is treated as missing.
  KEYS[1] entry key
  KEYS[2] load lock of the entry
  KEYS[3] lease version of the entry
  ARGV[1] lock token (random, unique to this attempt; '' takes no lock: local stampede mode)
  ARGV[2] lock TTL in ms
  ARGV[3] created-after threshold (epoch ms)
  ARGV[4] fresh-at time (epoch ms)
  ARGV[5] a fresh lease version, stored when the entry has none (never stored before, or lost); it
    lives at least the lock TTL, as long as the lease is honoured
  Reply: {1, entry} usable entry; {2, version, entry or ''} the caller holds the lease (and the lock) and must
    load (the unusable entry's header carries the options to refresh it with); {3, pttl} another caller holds the lock for pttl more ms (wait for its fill message)
]]
--- @include "check-types"
-- Before the lock is taken: a version key of another type would fail the script with the lock held by a load that never starts.
local refused = check_types({ KEYS[3], 'string' })
if refused then return refused end
local entry = redis.call('GET', KEYS[1])
if entry then
  local created, fresh = string.match(entry, '^%a(%d+):(%d+)[|;]')
  if created and (tonumber(created) > tonumber(ARGV[3]) or tonumber(fresh) > tonumber(ARGV[4])) then
    return {1, entry}
  end
end
if ARGV[1] == '' or redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  -- The version a lease names is stored, never implied: a version lost later (FLUSHALL, eviction,
  -- a restart without data) is absent at store time, and absent means void.
  local version = redis.call('GET', KEYS[3])
  if not version then
    version = ARGV[5]
    redis.call('SET', KEYS[3], version, 'PX', ARGV[2])
  elseif redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[3], ARGV[2])
  end
  return {2, version, entry or ''}
end
return {3, redis.call('PTTL', KEYS[2])}
