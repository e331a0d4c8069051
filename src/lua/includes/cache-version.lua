-- Voids every load in flight of an entry: its lease version becomes `version`, a fresh unique
-- string from the caller, for `ttl` ms. Never a counter: a lost version key (FLUSHALL, eviction, a
-- restart without data) is absent, which voids, and no later bump can recreate an old lease's
-- value; a planted value is simply replaced. A version key of another type must be refused
-- (check-types) before the first write.
local function cache_version_bump(key, version, ttl)
  redis.call('SET', key, version, 'PX', ttl)
end
