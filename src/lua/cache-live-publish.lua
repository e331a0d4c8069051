--[[
  Live dataset: announces a new version of the source data. Versions only move forward: a
  duplicate or older version is ignored.
  KEYS[1] dataset metadata (hash: version, data)
  ARGV[1] version (integer)
  ARGV[2] channel of the dataset (in the metadata's slot)
  ARGV[3] SPUBLISH on Cluster (sharded pub/sub), else PUBLISH
  Reply: 1 when the version was accepted and published, 0 when it was not newer
]]
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[1])
redis.call(ARGV[3] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH', ARGV[2], 'v|' .. ARGV[1])
return 1
