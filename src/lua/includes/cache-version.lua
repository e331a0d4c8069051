--- @include "server-time"
-- Bumps an entry's lease version for `ttl` ms, voiding every load in flight of it. A version INCR
-- cannot bump (planted: not an integer, or near 2^63) is replaced by the server time in µs: above
-- any version INCR reached and unlike any a load could hold, so the write still works and still
-- voids them. A version key of another type must be refused (check-types) before the first write.
local function cache_version_bump(key, ttl)
  local version = redis.call('GET', key)
  if version and (#version > 15 or not string.match(version, '^%d+$')) then
    local _, us = server_time_ms_us()
    redis.call('SET', key, string.format('%.0f', us), 'PX', ttl)
  else
    redis.call('INCR', key)
    redis.call('PEXPIRE', key, ttl)
  end
end
