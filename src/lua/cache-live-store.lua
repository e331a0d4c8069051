--[[
  Live dataset: stores a loaded dataset unless a newer one is stored already, releases the
  loader's lock and wakes the instances waiting for it.
  KEYS[1] dataset metadata (hash: version, data)
  KEYS[2] stored dataset
  KEYS[3] load lock
  ARGV[1] version the dataset was loaded for
  ARGV[2] encoded dataset
  ARGV[3] lock token of the load
  ARGV[4] channel of the dataset (in the metadata's slot)
  ARGV[5] SPUBLISH on Cluster (sharded pub/sub), else PUBLISH
  Reply: 1 when stored, 0 when a newer dataset was stored already
]]
local stored = redis.call('HGET', KEYS[1], 'data')
local wrote = 0
if not stored or tonumber(ARGV[1]) > tonumber(stored) or redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('HSET', KEYS[1], 'data', ARGV[1])
  wrote = 1
end
if redis.call('GET', KEYS[3]) == ARGV[3] then
  redis.call('DEL', KEYS[3])
end
redis.call(ARGV[5] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH', ARGV[4], 's|' .. (redis.call('HGET', KEYS[1], 'data') or ARGV[1]))
return wrote
