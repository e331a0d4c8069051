--[[
  Miss (or refresh) path of a cache read with distributed stampede protection: returns the entry
  when a usable one landed meanwhile, else takes the entry's load lock when it is free.
  An entry is usable when it was created after ARGV[3] or is fresh at ARGV[4] (header
  `<kind><createdAt>:<freshUntil>|`); an entry without that header is treated as missing.
  KEYS[1] entry key
  KEYS[2] load lock of the entry
  ARGV[1] lock token (random, unique to this attempt)
  ARGV[2] lock TTL in ms
  ARGV[3] created-after threshold (epoch ms)
  ARGV[4] fresh-at time (epoch ms)
  Reply: {1, entry} usable entry; {2} this caller holds the lock and must load; {3, pttl} another
    caller holds the lock for pttl more ms (wait for its fill message)
]]
local entry = redis.call('GET', KEYS[1])
if entry then
  local created, fresh = string.match(entry, '^%a(%d+):(%d+)|')
  if created and (tonumber(created) > tonumber(ARGV[3]) or tonumber(fresh) > tonumber(ARGV[4])) then
    return {1, entry}
  end
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {2}
end
return {3, redis.call('PTTL', KEYS[2])}
