--[[
  Live dataset: what should this instance do? Returns the stored dataset when it is current and
  newer than the instance's copy; takes the load lock when the stored dataset is older than the
  announced version (or missing).
  KEYS[1] dataset metadata (hash: version = announced, data = version of the stored dataset)
  KEYS[2] stored dataset
  KEYS[3] load lock
  ARGV[1] version of the instance's copy (-1 for none)
  ARGV[2] lock token
  ARGV[3] lock TTL in ms
  Reply: {0, version, dataVersion} the instance is up to date; {1, version, dataVersion, data} a
    newer stored dataset; {2, version} the caller holds the lock and must load; {3, version, pttl}
    another instance is loading
]]
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local stored = redis.call('HGET', KEYS[1], 'data')
if stored and tonumber(stored) >= version and redis.call('EXISTS', KEYS[2]) == 1 then
  if tonumber(stored) > tonumber(ARGV[1]) then
    return {1, version, tonumber(stored), redis.call('GET', KEYS[2])}
  end
  return {0, version, tonumber(stored)}
end
if redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then
  return {2, version}
end
return {3, version, redis.call('PTTL', KEYS[3])}
