--[[ Stores a running job's progress, only while the caller still holds its lease.
  KEYS[1] active: active zset
  KEYS[2] jobKey: job hash
  ARGV[1] active member ('<token>:<job id>')
  ARGV[2] encoded progress
  Reply: 1 stored, 0 the lease is gone
]]
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], 'g', ARGV[2])
return 1
